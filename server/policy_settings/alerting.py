"""Notification channels and the on-call roster, held in the database and edited in the console.

Precedence (docs/alerts.md): while ``notify_settings_state`` has no row, or its
``use_database`` is false, the channels and roster are config.json's ``notify_channels`` and
``oncall_tiers``. The first change saved in the console copies config.json's channels and
roster into the database and applies the change there; from then on the database is used and
config.json's two entries are ignored (they stay the fallback an administrator can return to
with ``revert_to_config``). Every change bumps ``version``; the alert worker compares it each
tick (``AlertingSource``), so a change made through one server process reaches the other's
deliveries at its next tick, with no stale cache.

Each channel's settings are validated by the notifier registry's own validation
(``server.notify.build_notifier``, through ``server.alerts.channels.parse_channels``). Secrets
(the settings fields a notifier declares with ``repr=False``: robot webhook addresses with their
keys, signing secrets, SMTP passwords) are stored here sealed with a key derived from
DATA/secret-key (server/policy_settings/sealed.py; a plain value from an older release still
works and is sealed at the channel's next save), opened only when channels are loaded, never
returned by the functions that feed pages (``ChannelView``), never logged.

No Flask here: the alert worker imports this module.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session

from server.alerts.channels import (
    NAME_LENGTH,
    SEVERITY_ORDER,
    Channel,
    ChannelError,
    parse_channels,
)
from server.alerts.models import AlertNotification
from server.config import ServerConfig
from server.notify import (
    NOTIFIERS,
    AlertMessage,
    ConfigError,
    LocalText,
    NoticeKind,
    NotifierError,
    Severity,
)
from server.notify.smtp import check_address
from server.policy_settings.models import (
    STATE_ROW_ID,
    NotifyChannelRow,
    NotifySettingsState,
    OncallTierRow,
)
from server.policy_settings.sealed import (
    UnsealError,
    channel_sealer,
    open_what_opens,
    seal_settings,
    secret_fields,
    unseal_settings,
)
from server.store.engine import conflict_insert
from server.store.models import utcnow

logger = logging.getLogger("xunjian.server.alerts")

MAX_CHANNELS = 50
MAX_TIERS = 10
MAX_PEOPLE_PER_TIER = 20
PERSON_NAME_LENGTH = 64
CONTACT_LENGTH = 100
MAX_ESCALATE_SECONDS = 7 * 24 * 3600
CHANNEL_NAME = re.compile(rf"[A-Za-z0-9_.-]{{1,{NAME_LENGTH}}}")
PHONE = re.compile(r"\+?[0-9][0-9 ()-]*[0-9]")
ACTOR_LENGTH = 64


class SettingsError(ValueError):
    """A refused change: ``field`` names the form field (or setting), ``reason`` says why.
    Never carries a secret value."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class Conflict(SettingsError):
    """The change contradicts the current state (a channel still on a tier, a name taken)."""


@dataclass(frozen=True)
class Person:
    name: str
    contact: str


@dataclass(frozen=True)
class Tier:
    channels: tuple[str, ...]
    people: tuple[Person, ...] = ()
    escalate_after_seconds: int | None = None


@dataclass(frozen=True)
class Alerting:
    """The channels and roster in force. ``channels`` have their tier and delay applied."""

    source: Literal["database", "config"]
    version: int | None
    channels: tuple[Channel, ...]
    tiers: tuple[Tier, ...]
    # Stored channels whose settings no longer validate (name, reason): skipped, shown.
    broken: tuple[tuple[str, str], ...] = ()


# --- validation -------------------------------------------------------------------------


# Words the channel pages use in their own paths (/settings/channels/new).
RESERVED_NAMES = frozenset({"new", "revert"})


def check_channel_name(name: str) -> str:
    if not CHANNEL_NAME.fullmatch(name):
        raise SettingsError("name", f"1..{NAME_LENGTH} letters, digits, '_', '.', '-'")
    if name in RESERVED_NAMES:
        raise SettingsError("name", f"{name!r} is reserved")
    return name


def validate_channel(kind: str, min_severity: str, settings: Mapping[str, Any]) -> None:
    """The same validation config.json's channels get, with the bad setting named."""
    if kind not in NOTIFIERS:
        raise SettingsError("kind", f"must be one of {', '.join(NOTIFIERS)}")
    if min_severity not in SEVERITY_ORDER:
        raise SettingsError("min_severity", f"must be one of {', '.join(SEVERITY_ORDER)}")
    try:
        NOTIFIERS[kind].from_mapping(settings)
    except ConfigError as error:
        raise SettingsError(error.setting, error.reason) from None


def check_contact(contact: str) -> str:
    """A 24-hour contact: a phone number (digits, optional +, spaces, dashes, parentheses;
    5..20 digits) or a mail address."""
    contact = contact.strip()
    if not contact or len(contact) > CONTACT_LENGTH:
        raise ValueError(f"a contact is 1..{CONTACT_LENGTH} characters")
    if "@" in contact:
        try:
            check_address("roster", "contact", contact)
        except ConfigError:
            raise ValueError(f"{contact!r} is not a mail address like it@school.cn") from None
        return contact
    digits = sum(ch.isdigit() for ch in contact)
    if not PHONE.fullmatch(contact) or not 5 <= digits <= 20:
        raise ValueError(f"{contact!r} is neither a phone number (5..20 digits) nor a mail address")
    return contact


def check_person_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > PERSON_NAME_LENGTH:
        raise ValueError(f"a name is 1..{PERSON_NAME_LENGTH} characters")
    if any(not ch.isprintable() for ch in name) or any(ch in name for ch in "<>"):
        raise ValueError(f"{name!r} has characters a name does not have")
    return name


def validate_roster(tiers: Sequence[Tier], channel_names: Sequence[str]) -> tuple[Tier, ...]:
    """The rules of config.json's ``oncall_tiers`` plus the people; errors name
    ``tier<N>.<what>`` (N from 1)."""
    if len(tiers) > MAX_TIERS:
        raise SettingsError("tiers", f"at most {MAX_TIERS} tiers")
    known = set(channel_names)
    placed: set[str] = set()
    checked: list[Tier] = []
    for index, tier in enumerate(tiers):
        where = f"tier{index + 1}"
        if not tier.channels:
            raise SettingsError(f"{where}.channels", "a tier needs at least one channel")
        for name in tier.channels:
            if name not in known:
                raise SettingsError(f"{where}.channels", f"no channel named {name!r}")
            if name in placed:
                raise SettingsError(f"{where}.channels", f"channel {name!r} is on two tiers")
            placed.add(name)
        if len(tier.people) > MAX_PEOPLE_PER_TIER:
            raise SettingsError(f"{where}.people", f"at most {MAX_PEOPLE_PER_TIER} people a tier")
        people = []
        for person in tier.people:
            try:
                people.append(Person(check_person_name(person.name), check_contact(person.contact)))
            except ValueError as error:
                raise SettingsError(f"{where}.people", str(error)) from None
        after = tier.escalate_after_seconds
        last = index == len(tiers) - 1
        if after is None and not last:
            raise SettingsError(
                f"{where}.escalate_after_seconds", "required on every tier but the last"
            )
        if after is not None and (
            isinstance(after, bool) or not isinstance(after, int) or after < 1
        ):
            raise SettingsError(f"{where}.escalate_after_seconds", "a whole number >= 1")
        if after is not None and after > MAX_ESCALATE_SECONDS:
            raise SettingsError(
                f"{where}.escalate_after_seconds", f"at most {MAX_ESCALATE_SECONDS} (a week)"
            )
        checked.append(Tier(tuple(tier.channels), tuple(people), None if last else after))
    return tuple(checked)


def place_on_tiers(channels: Sequence[Channel], tiers: Sequence[Tier]) -> tuple[Channel, ...]:
    """Tier N's channels are told once an alert is ``sum(escalate_after of tiers before N)``
    seconds old and still unacknowledged (as ``server.alerts.channels.apply_roster``)."""
    placement: dict[str, tuple[int, int]] = {}
    delay = 0
    for index, tier in enumerate(tiers):
        for name in tier.channels:
            placement.setdefault(name, (index + 1, delay))
        delay += tier.escalate_after_seconds or 0
    placed = []
    for channel in channels:
        tier_number, delay_seconds = placement.get(channel.name, (None, 0))
        placed.append(dataclasses.replace(channel, tier=tier_number, delay_seconds=delay_seconds))
    return tuple(placed)


def tiers_from_config(channels: Sequence[Channel]) -> tuple[Tier, ...]:
    """config.json's roster, as ServerConfig keeps it (a tier and delay on each channel)."""
    by_tier: dict[int, list[Channel]] = {}
    for channel in channels:
        if channel.tier is not None:
            by_tier.setdefault(channel.tier, []).append(channel)
    numbers = sorted(by_tier)
    tiers = []
    for position, number in enumerate(numbers):
        after = None
        if position + 1 < len(numbers):
            after = (
                by_tier[numbers[position + 1]][0].delay_seconds - by_tier[number][0].delay_seconds
            )
        tiers.append(Tier(tuple(c.name for c in by_tier[number]), (), after))
    return tuple(tiers)


# --- reading ----------------------------------------------------------------------------


def _config_alerting(config: ServerConfig, version: int | None) -> Alerting:
    channels = config.notify_channels
    return Alerting("config", version, channels, tiers_from_config(channels))


def _tier_from_row(row: OncallTierRow) -> Tier:
    people = tuple(
        Person(str(p.get("name", "")), str(p.get("contact", "")))
        for p in row.people or []
        if isinstance(p, dict)
    )
    return Tier(tuple(row.channels or []), people, row.escalate_after_seconds)


def load_alerting(session: Session, config: ServerConfig, *, data: Path) -> Alerting:
    """The channels and roster in force now, secrets opened with DATA/secret-key (``data``)."""
    state = session.get(NotifySettingsState, STATE_ROW_ID)
    if state is None or not state.use_database:
        return _config_alerting(config, state.version if state is not None else None)
    rows = session.scalars(select(NotifyChannelRow).order_by(NotifyChannelRow.id)).all()
    channels: list[Channel] = []
    broken: list[tuple[str, str]] = []
    sealer = channel_sealer(data)
    for row in rows:
        try:
            entry = {
                "name": row.name,
                "kind": row.kind,
                "min_severity": row.min_severity,
                "settings": unseal_settings(sealer, row.kind, row.settings or {}),
            }
            channels.extend(parse_channels([entry]))
        except (ChannelError, UnsealError) as error:
            # A release that validates more strictly, or a replaced secret key, must not stop
            # the other channels.
            reason = str(error) if isinstance(error, UnsealError) else str(error).split(": ", 1)[-1]
            logger.error("alerts: stored channel %s is invalid and skipped: %s", row.name, reason)
            broken.append((row.name, reason))
    tiers = tuple(
        _tier_from_row(row)
        for row in session.scalars(select(OncallTierRow).order_by(OncallTierRow.position))
    )
    return Alerting(
        "database", state.version, place_on_tiers(channels, tiers), tiers, tuple(broken)
    )


class AlertingSource:
    """What the alert worker asks each tick: one SELECT of the version, and a reload only when
    it changed (any process's console save bumps it)."""

    def __init__(self, engine: Engine, config: ServerConfig, *, data: Path) -> None:
        self.engine = engine
        self.config = config
        self.data = data
        self._current: Alerting | None = None

    def current(self) -> Alerting:
        with Session(self.engine) as session:
            version = session.scalar(
                select(NotifySettingsState.version).where(NotifySettingsState.id == STATE_ROW_ID)
            )
            if self._current is None or self._current.version != version:
                # Read after the version: a change landing in between makes the rows newer
                # than the cached version, and the next tick reloads again.
                self._current = load_alerting(session, self.config, data=self.data)
        return self._current


# --- writing ----------------------------------------------------------------------------


def _actor(actor: str) -> str:
    return actor[:ACTOR_LENGTH] or "anonymous"


def _take_over(
    session: Session, config: ServerConfig, actor: str, data: Path
) -> NotifySettingsState:
    """Make the database hold the channels and roster, copying config.json's the first time
    (or after a return to config.json), their secrets sealed. Locks the state row for the
    transaction."""
    now = utcnow()
    insert = conflict_insert(session)
    # ON CONFLICT DO NOTHING: two processes saving their first change at once make one row.
    # (No savepoint: pysqlite's SAVEPOINT would commit the outer transaction.)
    session.execute(
        insert(NotifySettingsState)
        .values(id=STATE_ROW_ID, version=0, use_database=False, updated_at=now, updated_by=actor)
        .on_conflict_do_nothing(index_elements=["id"])
    )
    state = session.scalars(
        select(NotifySettingsState)
        .where(NotifySettingsState.id == STATE_ROW_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if not state.use_database:
        session.execute(delete(OncallTierRow))
        session.execute(delete(NotifyChannelRow))
        sealer = channel_sealer(data)
        for channel in config.notify_channels:
            session.add(
                NotifyChannelRow(
                    name=channel.name,
                    kind=channel.kind,
                    min_severity=channel.min_severity,
                    settings=seal_settings(sealer, channel.kind, channel.settings),
                    updated_at=now,
                    updated_by=actor,
                )
            )
        for position, tier in enumerate(tiers_from_config(config.notify_channels), start=1):
            session.add(_tier_row(position, tier))
        state.use_database = True
        session.flush()
    return state


def _bump(session: Session, actor: str) -> int:
    session.execute(
        update(NotifySettingsState)
        .where(NotifySettingsState.id == STATE_ROW_ID)
        .values(version=NotifySettingsState.version + 1, updated_at=utcnow(), updated_by=actor)
    )
    version = session.scalar(
        select(NotifySettingsState.version).where(NotifySettingsState.id == STATE_ROW_ID)
    )
    assert version is not None
    return version


def _tier_row(position: int, tier: Tier) -> OncallTierRow:
    return OncallTierRow(
        position=position,
        channels=list(tier.channels),
        people=[{"name": p.name, "contact": p.contact} for p in tier.people],
        escalate_after_seconds=tier.escalate_after_seconds,
    )


def _channel_row(session: Session, name: str) -> NotifyChannelRow:
    row = session.scalar(select(NotifyChannelRow).where(NotifyChannelRow.name == name))
    if row is None:
        raise LookupError(name)
    return row


def stored_settings(
    session: Session, config: ServerConfig, name: str, *, data: Path
) -> tuple[str, dict[str, Any]]:
    """(kind, settings with secrets opened) of the channel in force named ``name``: for merging
    a form that leaves secrets blank, and for the test message. ``LookupError`` if none."""
    for channel in load_alerting(session, config, data=data).channels:
        if channel.name == name:
            return channel.kind, dict(channel.settings)
    state = session.get(NotifySettingsState, STATE_ROW_ID)
    if state is not None and state.use_database:
        row = _channel_row(session, name)  # a broken one: still editable
        # Secrets that no longer open are left out, so the form asks for them again.
        return row.kind, open_what_opens(channel_sealer(data), row.kind, row.settings or {})
    raise LookupError(name)


def lost_secrets(session: Session, name: str, *, data: Path) -> frozenset[str]:
    """The secret fields of stored channel ``name`` that DATA/secret-key cannot open."""
    row = session.scalar(select(NotifyChannelRow).where(NotifyChannelRow.name == name))
    if row is None:
        return frozenset()
    stored = row.settings or {}
    opened = open_what_opens(channel_sealer(data), row.kind, stored)
    return frozenset(field for field in secret_fields(row.kind) if field in stored) - set(opened)


def create_channel(
    session: Session,
    config: ServerConfig,
    actor: str,
    name: str,
    kind: str,
    min_severity: str,
    settings: Mapping[str, Any],
    *,
    data: Path,
) -> int:
    """Add a channel (its secrets sealed); returns the new version. The caller commits."""
    actor = _actor(actor)
    check_channel_name(name)
    validate_channel(kind, min_severity, settings)
    _take_over(session, config, actor, data)
    if session.scalar(select(NotifyChannelRow.id).where(NotifyChannelRow.name == name)):
        raise Conflict("name", f"a channel named {name!r} exists")
    count = len(session.scalars(select(NotifyChannelRow.id)).all())
    if count >= MAX_CHANNELS:
        raise Conflict("name", f"at most {MAX_CHANNELS} channels")
    session.add(
        NotifyChannelRow(
            name=name,
            kind=kind,
            min_severity=min_severity,
            settings=seal_settings(channel_sealer(data), kind, settings),
            updated_at=utcnow(),
            updated_by=actor,
        )
    )
    session.flush()
    return _bump(session, actor)


def update_channel(
    session: Session,
    config: ServerConfig,
    actor: str,
    name: str,
    min_severity: str,
    settings: Mapping[str, Any],
    *,
    data: Path,
) -> int:
    """Replace a channel's settings (its kind stays; the name is its identity). ``settings``
    are plain; they are sealed here, which also seals a row an older release left plain."""
    actor = _actor(actor)
    _take_over(session, config, actor, data)
    row = _channel_row(session, name)
    validate_channel(row.kind, min_severity, settings)
    row.min_severity = min_severity
    row.settings = seal_settings(channel_sealer(data), row.kind, settings)
    row.updated_at = utcnow()
    row.updated_by = actor
    session.flush()
    return _bump(session, actor)


def delete_channel(
    session: Session, config: ServerConfig, actor: str, name: str, *, data: Path
) -> int:
    """Remove a channel that no tier uses; its unsent notifications are marked failed."""
    actor = _actor(actor)
    _take_over(session, config, actor, data)
    row = _channel_row(session, name)
    for tier in session.scalars(select(OncallTierRow).order_by(OncallTierRow.position)):
        if name in (tier.channels or []):
            raise Conflict("name", f"tier {tier.position} of the on-call roster uses it")
    session.delete(row)
    session.execute(
        update(AlertNotification)
        .where(AlertNotification.channel == name, AlertNotification.status == "pending")
        .values(status="failed", last_error="channel deleted in the console", claimed_until=None)
    )
    session.flush()
    return _bump(session, actor)


def save_roster(
    session: Session, config: ServerConfig, actor: str, tiers: Sequence[Tier], *, data: Path
) -> int:
    """Replace the whole roster (tiers in order)."""
    actor = _actor(actor)
    _take_over(session, config, actor, data)
    names = session.scalars(select(NotifyChannelRow.name)).all()
    checked = validate_roster(tiers, names)
    session.execute(delete(OncallTierRow))
    session.flush()
    for position, tier in enumerate(checked, start=1):
        session.add(_tier_row(position, tier))
    session.flush()
    return _bump(session, actor)


def revert_to_config(session: Session, actor: str) -> int | None:
    """Use config.json's channels and roster again; the database's are forgotten."""
    actor = _actor(actor)
    state = session.scalars(
        select(NotifySettingsState).where(NotifySettingsState.id == STATE_ROW_ID).with_for_update()
    ).one_or_none()
    if state is None or not state.use_database:
        return None
    session.execute(delete(OncallTierRow))
    session.execute(delete(NotifyChannelRow))
    state.use_database = False
    session.flush()
    return _bump(session, actor)


# --- pages and the test message -----------------------------------------------------------


@dataclass(frozen=True)
class ChannelView:
    """A channel as a page may show it: the non-secret settings, and which secrets are set."""

    name: str
    kind: str
    min_severity: str
    tier: int | None
    settings: dict[str, Any]
    secrets_set: dict[str, bool]
    problem: str | None = None


def public_view(
    name: str,
    kind: str,
    min_severity: str,
    settings: Mapping[str, Any],
    tier: int | None,
    problem: str | None = None,
) -> ChannelView:
    hidden = secret_fields(kind)
    return ChannelView(
        name=name,
        kind=kind,
        min_severity=min_severity,
        tier=tier,
        settings={k: v for k, v in settings.items() if k not in hidden},
        secrets_set={k: settings.get(k) not in (None, "") for k in hidden},
        problem=problem,
    )


def channel_views(
    session: Session, config: ServerConfig, *, data: Path
) -> tuple[Alerting, list[ChannelView]]:
    alerting = load_alerting(session, config, data=data)
    views = [
        public_view(c.name, c.kind, c.min_severity, c.settings, c.tier) for c in alerting.channels
    ]
    if alerting.broken:
        reasons = dict(alerting.broken)
        for row in session.scalars(
            select(NotifyChannelRow).where(NotifyChannelRow.name.in_(list(reasons)))
        ):
            views.append(
                public_view(
                    row.name,
                    row.kind,
                    row.min_severity,
                    row.settings or {},
                    None,
                    reasons[row.name],
                )
            )
    return alerting, views


@dataclass(frozen=True)
class TrialOutcome:
    ok: bool
    detail: str


def trial_message(sender: str, zone: str = "UTC") -> AlertMessage:
    return AlertMessage(
        alert_id=f"test-{secrets.token_hex(6)}",
        kind=NoticeKind.TEST,
        severity=Severity.INFO,
        title=LocalText("巡检测试消息", "xunjian test message"),
        body=LocalText(
            f"这是 {sender} 在控制台发送的测试消息，不是告警。",
            f"A test message sent by {sender} from the console; not an alert.",
        ),
        subject="xunjian",
        opened_at=datetime.datetime.now(ZoneInfo(zone)),
    )


def send_trial(
    kind: str, settings: Mapping[str, Any], sender: str, zone: str = "UTC"
) -> TrialOutcome:
    """Send a test message through the real notifier. Notifier errors carry no secrets."""
    try:
        delivery = NOTIFIERS[kind].from_mapping(settings).send(trial_message(sender, zone))
    except NotifierError as error:
        return TrialOutcome(False, f"{type(error).__name__}: {error}"[:500])
    except Exception as error:  # a notifier bug must show as a failed test, not a 500
        logger.exception("alerts: test message through a %s channel crashed", kind)
        return TrialOutcome(False, f"{type(error).__name__}"[:500])
    return TrialOutcome(True, f"{delivery.target} {delivery.detail}"[:500])
