"""Creating, changing and deleting monitors, and the two-person acceptance of a changed page
(POLICY.md E9): one person proposes the latest observed page as the new baseline, a different
person approves it. Used by the API, the console and the command line alike; every input is
validated here (``FieldError`` says which field and why; nothing is changed then).

A monitor may be run by an enrolled agent (``agent_id``) for a site only the inside network
reaches: the server then never fetches the page, not even for the baseline (the agent's first
good check takes it), and the agent must exist, be a real agent (not a network device's
record) and not be revoked."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from msgspec import UNSET
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from server.alerts.models import Alert
from server.devices.models import DEVICE_PLATFORM
from server.monitors.judge import StatusesError, parse_statuses
from server.monitors.models import (
    TEXT_LIMIT,
    DefacementWord,
    Monitor,
    MonitorBaseline,
    MonitorProposal,
)
from server.monitors.page import VolatileError, check_volatile, readable_diff, snapshot
from server.monitors.record import alert_key
from server.monitors.schemas import (
    MAX_WORDS,
    NOTE_LENGTH,
    WORD_LENGTH,
    MaintenanceWindow,
    MonitorSettings,
    NewMonitor,
)
from server.store.models import Agent, utcnow
from xunjian.core.probe import AddressPolicy, UrlError, check_url, fetch
from xunjian.core.schema import BodyError, convert

MAX_MONITORS = 10_000
CA_FILE_LIMIT = 1024 * 1024
# What one agent runs at most: its monitor list must stay a small answer (agent/monitors).
MAX_AGENT_MONITORS = 100


class FieldError(ValueError):
    """An input field is invalid; the message names it."""


class ConflictError(Exception):
    """The change cannot be made in the present state (409)."""


class ForbiddenError(Exception):
    """This person may not make this change (403), e.g. approving their own proposal."""


def _time(value: str, name: str) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as error:
        raise FieldError(f"{name} must be an ISO 8601 time") from error
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.UTC).replace(tzinfo=None)
    return moment


def settings_from(payload: Any, creating: bool, *, from_text: bool = False) -> MonitorSettings:
    """The settings model of an API body or a console form (``from_text``: numbers as text)."""
    if isinstance(payload, MonitorSettings) and (not creating or isinstance(payload, NewMonitor)):
        return payload
    try:
        return convert(payload, NewMonitor if creating else MonitorSettings, from_text=from_text)
    except BodyError as error:
        raise FieldError(str(error)) from None


def validate(payload: Any, creating: bool, *, from_text: bool = False) -> dict[str, Any]:
    """Column values from an API body or a console form: the bounds by the settings model
    (server/monitors/schemas.py), then what a schema cannot say. Bad values raise."""
    settings = settings_from(payload, creating, from_text=from_text)
    values: dict[str, Any] = {}
    for name in settings.__struct_fields__:
        value = getattr(settings, name)
        if value is UNSET:
            continue
        if name == "url":
            try:
                values["url"] = check_url(value)
            except UrlError as error:
                raise FieldError(str(error)) from error
        elif name == "name":
            values[name] = value.strip()
        elif name == "accepted_statuses":
            try:
                parse_statuses(value)
            except StatusesError as error:
                raise FieldError(str(error)) from error
            values[name] = ",".join(part.strip() for part in value.split(","))
        elif name == "ca_file":
            values[name] = _ca_file(value)
        elif name in ("volatile_selectors", "volatile_patterns"):
            values[name] = [item.strip() for item in value if item.strip()]
        elif name == "maintenance":
            values.update(_maintenance(value))
        else:
            values[name] = value
    try:
        check_volatile(values.get("volatile_selectors", []), values.get("volatile_patterns", []))
    except VolatileError as error:
        raise FieldError(str(error)) from error
    return values


def _ca_file(value: str) -> str:
    if not value:
        return ""
    path = Path(value)
    if not path.is_absolute():
        raise FieldError("ca_file must be an absolute path on the server")
    try:
        size = path.stat().st_size
        head = path.read_bytes()[:CA_FILE_LIMIT] if size <= CA_FILE_LIMIT else b""
    except OSError as error:
        raise FieldError(f"ca_file cannot be read: {error.strerror}") from error
    if not head or b"-----BEGIN CERTIFICATE-----" not in head:
        raise FieldError(f"ca_file must be a PEM certificate file of at most {CA_FILE_LIMIT} B")
    return os.path.normpath(value)


def _maintenance(value: MaintenanceWindow | None) -> dict[str, Any]:
    if value is None:
        return {"maintenance_start": None, "maintenance_end": None}
    start, end = _time(value.start, "maintenance.start"), _time(value.end, "maintenance.end")
    if end <= start:
        raise FieldError("maintenance.end must be after maintenance.start")
    if end - start > datetime.timedelta(days=31):
        raise FieldError("a maintenance window may last at most 31 days")
    return {"maintenance_start": start, "maintenance_end": end}


def check_runner(session: Session, values: dict[str, Any], monitor: Monitor | None) -> None:
    """The agent named by ``agent_id`` (if any) may run this monitor: it exists, is an enrolled
    agent and not revoked, runs fewer than ``MAX_AGENT_MONITORS``, and the monitor names no
    ``ca_file`` (a path on the server, which the agent's host does not have)."""
    agent_id = values.get("agent_id", monitor.agent_id if monitor is not None else None)
    if agent_id is None:
        return
    ca_file = values.get("ca_file", monitor.ca_file if monitor is not None else "")
    if ca_file:
        raise FieldError(
            "ca_file names a file on the server; a monitor run by an agent trusts the CA "
            "store of the agent's host (install the internal CA there)"
        )
    if "agent_id" not in values or (monitor is not None and monitor.agent_id == agent_id):
        return  # unchanged: checked when it was assigned
    agent = session.get(Agent, agent_id)
    if agent is None or agent.platform == DEVICE_PLATFORM:
        raise FieldError(f"agent_id: no enrolled agent {agent_id}")
    if agent.revoked_at is not None:
        raise FieldError(f"agent_id: agent {agent_id} is revoked")
    running = session.scalar(
        select(func.count()).select_from(Monitor).where(Monitor.agent_id == agent_id)
    )
    if running >= MAX_AGENT_MONITORS:
        raise FieldError(f"agent_id: agent {agent_id} runs {MAX_AGENT_MONITORS} monitors already")


def check_address(
    values: dict[str, Any], monitor: Monitor | None, addresses: AddressPolicy
) -> None:
    """A URL whose host is an IP address the server may not fetch is refused when it is set
    (a name is checked when it is fetched: its addresses can change). A monitor an agent runs
    is checked by that agent's own allowed networks (agent.json), not the server's."""
    if "url" not in values and not ("agent_id" in values and values["agent_id"] is None):
        return  # neither the address nor who fetches it changes (a maintenance window)
    url = values.get("url", monitor.url if monitor else None)
    agent_id = values.get("agent_id", monitor.agent_id if monitor else None)
    if url is None or agent_id is not None:
        return
    host = (urlsplit(url).hostname or "").split("%", 1)[0]
    try:
        problem = addresses.problem(host)
    except ValueError:
        return  # a name, not an address
    if problem is not None:
        raise FieldError(f"url: refused: {problem}")


def take_baseline(
    monitor: Monitor, who: str, now: datetime.datetime, addresses: AddressPolicy
) -> MonitorBaseline | None:
    """Fetch the page now and make it the baseline; None when it cannot be fetched (the first
    good check then takes it)."""
    fetched = fetch(
        monitor.url,
        timeout=monitor.timeout_seconds,
        follow_redirects=monitor.follow_redirects,
        max_redirects=monitor.max_redirects,
        ca_file=monitor.ca_file,
        addresses=addresses,
    )
    if fetched.status is None or not 200 <= fetched.status < 300:
        return None
    snap = snapshot(
        fetched.text(), fetched.url, monitor.volatile_selectors, monitor.volatile_patterns
    )
    return MonitorBaseline(
        text_hash=snap.text_hash,
        text=snap.text[:TEXT_LIMIT],
        title=snap.title,
        domains=list(snap.domains),
        taken_at=now,
        accepted_by=who,
    )


def create_monitor(
    session: Session,
    values: dict[str, Any],
    who: str,
    addresses: AddressPolicy = AddressPolicy(),  # noqa: B008 (frozen: one shared default)
) -> Monitor:
    """``addresses``: where the server may fetch from (``ServerConfig.monitor_addresses``)."""
    if session.scalar(select(func.count()).select_from(Monitor)) >= MAX_MONITORS:
        raise ConflictError(f"at most {MAX_MONITORS} monitors")
    check_runner(session, values, None)
    check_address(values, None, addresses)
    now = utcnow()
    monitor = Monitor(
        **{
            "name": "",
            "enabled": True,
            "interval_seconds": 300,
            "timeout_seconds": 10,
            "accepted_statuses": "200-299",
            "keyword": "",
            "absent_keyword": "",
            "max_ms": None,
            "follow_redirects": True,
            "max_redirects": 5,
            "ca_file": "",
            "cert_warn_days": 14,
            "fail_threshold": 3,
            "success_threshold": 2,
            "reminder_seconds": 3600,
            "tamper_enabled": True,
            "similarity_percent": 80,
            "volatile_selectors": [],
            "volatile_patterns": [],
            **values,
        },
        created_at=now,
        created_by=who[:64],
        next_due_at=now,
        state="pending",
        failures=0,
        successes=0,
        slow_streak=0,
        fast_streak=0,
        slow_active=False,
        alerting="",
    )
    if not monitor.name:
        monitor.name = monitor.url[:200]
    # Fetched before anything is written: on SQLite an open write transaction would hold the
    # database's lock for as long as the page takes to answer. A page an agent runs is never
    # fetched by the server: the agent's first good check takes the baseline.
    baseline = None if monitor.agent_id else take_baseline(monitor, who, now, addresses)
    session.add(monitor)
    session.flush()
    if baseline is not None:
        baseline.monitor_id = monitor.id
        session.add(baseline)
    # The first check runs one interval after the baseline was taken.
    monitor.next_due_at = now + datetime.timedelta(seconds=monitor.interval_seconds)
    return monitor


def update_monitor(
    session: Session,
    monitor: Monitor,
    values: dict[str, Any],
    addresses: AddressPolicy = AddressPolicy(),  # noqa: B008 (frozen: one shared default)
) -> bool:
    """Apply the changes; True if the baseline was dropped (the URL or the volatile parts
    changed, so the old one no longer compares like with like: the next good check takes a
    new one). Moving a monitor between the server and an agent keeps its baseline and state:
    the page is the same whoever fetches it."""
    check_runner(session, values, monitor)
    check_address(values, monitor, addresses)
    rebase = any(
        name in values and values[name] != getattr(monitor, name)
        for name in ("url", "volatile_selectors", "volatile_patterns")
    )
    for name, value in values.items():
        setattr(monitor, name, value)
    if "interval_seconds" in values:
        monitor.next_due_at = min(
            monitor.next_due_at, utcnow() + datetime.timedelta(seconds=values["interval_seconds"])
        )
    if rebase:
        session.execute(delete(MonitorBaseline).where(MonitorBaseline.monitor_id == monitor.id))
        monitor.candidate_hash = None
        monitor.candidate_text = None
        monitor.candidate_title = None
        monitor.candidate_domains = None
        monitor.candidate_at = None
    return rebase


def delete_monitor(session: Session, monitor: Monitor) -> None:
    now = utcnow()
    for kind in ("down", "slow", "cert", "tamper"):
        session.execute(
            update(Alert)
            .where(Alert.open_key == alert_key(kind, monitor.id))
            .values(resolved_at=now, open_key=None)
        )
    session.delete(monitor)


# -- two-person acceptance (E9) -------------------------------------------------------------
def propose(session: Session, monitor: Monitor, who: str, note: str = "") -> MonitorProposal:
    """Propose the latest page that differed from the baseline. A pending proposal of the
    same monitor is superseded."""
    if len(note) > NOTE_LENGTH:
        raise FieldError(f"note must be at most {NOTE_LENGTH} characters")
    if monitor.candidate_hash is None or monitor.candidate_text is None:
        raise ConflictError("the page matches its baseline; there is nothing to accept")
    baseline = session.get(MonitorBaseline, monitor.id)
    before = ([baseline.title] if baseline and baseline.title else []) + (
        baseline.text.split("\n") if baseline and baseline.text else []
    )
    title = monitor.candidate_title or ""
    after = ([title] if title else []) + (
        monitor.candidate_text.split("\n") if monitor.candidate_text else []
    )
    now = utcnow()
    session.execute(
        update(MonitorProposal)
        .where(MonitorProposal.monitor_id == monitor.id, MonitorProposal.status == "pending")
        .values(status="superseded", decided_at=now)
    )
    proposal = MonitorProposal(
        monitor_id=monitor.id,
        status="pending",
        proposed_by=who[:64],
        proposed_at=now,
        note=note,
        text_hash=monitor.candidate_hash,
        text=monitor.candidate_text,
        title=title,
        domains=list(monitor.candidate_domains or []),
        diff=readable_diff(before, after),
    )
    session.add(proposal)
    session.flush()
    return proposal


def decide(
    session: Session, monitor: Monitor, proposal_id: int, who: str, approve: bool
) -> MonitorProposal:
    proposal = session.get(MonitorProposal, proposal_id)
    if proposal is None or proposal.monitor_id != monitor.id:
        raise LookupError("no such proposal")
    if proposal.status != "pending":
        raise ConflictError(f"the proposal is {proposal.status} already")
    if approve and proposal.proposed_by == who:
        raise ForbiddenError(
            "a changed page needs two people: the proposer may not approve it (POLICY.md E9)"
        )
    now = utcnow()
    # Conditional: two approvers at once cannot both win.
    won = session.execute(
        update(MonitorProposal)
        .where(MonitorProposal.id == proposal_id, MonitorProposal.status == "pending")
        .values(status="approved" if approve else "rejected", decided_by=who[:64], decided_at=now)
    ).rowcount
    if won != 1:
        raise ConflictError("the proposal was decided by someone else just now")
    if approve:
        session.execute(delete(MonitorBaseline).where(MonitorBaseline.monitor_id == monitor.id))
        session.add(
            MonitorBaseline(
                monitor_id=monitor.id,
                text_hash=proposal.text_hash,
                text=proposal.text,
                title=proposal.title,
                domains=list(proposal.domains or []),
                taken_at=now,
                accepted_by=f"{proposal.proposed_by} + {who}"[:200],
            )
        )
        if monitor.candidate_hash == proposal.text_hash:
            monitor.candidate_hash = None
            monitor.candidate_text = None
            monitor.candidate_title = None
            monitor.candidate_domains = None
            monitor.candidate_at = None
        session.execute(
            update(Alert)
            .where(Alert.open_key == alert_key("tamper", monitor.id))
            .values(resolved_at=now, resolved_by=who[:64], open_key=None)
        )
        monitor.alerting = ",".join(k for k in monitor.alerting.split(",") if k and k != "tamper")
    session.refresh(proposal)
    return proposal


# -- defacement words -----------------------------------------------------------------------
def words(session: Session) -> list[str]:
    return list(session.scalars(select(DefacementWord.word).order_by(DefacementWord.word)))


def replace_words(session: Session, new: list[str], who: str) -> list[str]:
    """The new list (the model bounds it: DefacementWords); words are lower-cased, spaces
    folded, duplicates dropped."""
    cleaned: list[str] = []
    for word in new:
        word = " ".join(word.split()).lower()
        if not word:
            continue
        if len(word) > WORD_LENGTH:
            raise FieldError(f"each word must be at most {WORD_LENGTH} characters")
        if word not in cleaned:
            cleaned.append(word)
    if len(cleaned) > MAX_WORDS:
        raise FieldError(f"at most {MAX_WORDS} words")
    existing = set(words(session))
    gone = existing - set(cleaned)
    if gone:
        session.execute(delete(DefacementWord).where(DefacementWord.word.in_(gone)))
    now = utcnow()
    for word in cleaned:
        if word not in existing:
            session.add(DefacementWord(word=word, added_by=who[:64], added_at=now))
    return cleaned


@dataclass(frozen=True)
class Counts:
    up: int
    pending: int
    down: int


def counts(engine: Engine) -> Counts:
    with engine.connect() as connection:
        rows = dict(
            connection.execute(select(Monitor.state, func.count()).group_by(Monitor.state)).all()
        )
    return Counts(rows.get("up", 0), rows.get("pending", 0), rows.get("down", 0))
