"""Probing one monitor and recording what it found, in one transaction: the raw result, the
flap state, the candidate page, and the alerts opened or resolved. The server's own probes
(:func:`probe_monitor`) and the fetches an agent makes for an internal-only site
(``server/monitors/agent_intake.py``) go through the same :func:`judge_fetch` and
:func:`record`, so both behave alike in every respect.

Alerts are level-triggered and deduplicated by ``open_key`` (``kind::monitor:<id>:``): while a
condition holds and the monitor is not in a maintenance window, an INSERT ... ON CONFLICT
(open_key) DO NOTHING keeps one alert open; when it ends, an UPDATE resolves it. The kinds a
monitor has open are kept in ``monitors.alerting``, so a quiet probe touches no alert row.
While a monitor is down and its alert open and unacknowledged, a reminder is queued to the
channels every ``reminder_seconds`` (``alert_notifications`` rows with event ``remind<n>``).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session, defer

from server.alerts.channels import Channel
from server.alerts.models import Alert, AlertNotification, open_key
from server.monitors.judge import Baseline, Flap, Result, Settings, advance, judge
from server.monitors.models import (
    TEXT_LIMIT,
    DefacementWord,
    Monitor,
    MonitorBaseline,
    MonitorResult,
)
from server.store.engine import conflict_insert
from server.store.models import utcnow
from xunjian.core.probe import AddressPolicy, Fetch, fetch

logger = logging.getLogger("xunjian.server.monitors")
SEVERITY = {"down": "high", "slow": "medium", "tamper": "critical"}
MESSAGE_LENGTH = 6000
WORDS_REFRESH_SECONDS = 60


def check_id(monitor_id: int) -> str:
    return f"monitor:{monitor_id}"


def alert_key(kind: str, monitor_id: int) -> str:
    return open_key(kind, None, check_id(monitor_id), "")


def settings_of(monitor: Monitor) -> Settings:
    return Settings(
        url=monitor.url,
        accepted_statuses=monitor.accepted_statuses,
        keyword=monitor.keyword,
        absent_keyword=monitor.absent_keyword,
        max_ms=monitor.max_ms,
        cert_warn_days=monitor.cert_warn_days,
        tamper_enabled=monitor.tamper_enabled,
        similarity_percent=monitor.similarity_percent,
        volatile_selectors=tuple(monitor.volatile_selectors or ()),
        volatile_patterns=tuple(monitor.volatile_patterns or ()),
    )


def in_maintenance(monitor: Monitor, now: datetime.datetime) -> bool:
    start, end = monitor.maintenance_start, monitor.maintenance_end
    return start is not None and end is not None and start <= now < end


class DefacementWords:
    """The editable word list, read at most once a minute per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.lock = threading.Lock()
        self.words: tuple[str, ...] = ()
        self.read_at = -1e9

    def get(self) -> tuple[str, ...]:
        with self.lock:
            if time.monotonic() - self.read_at >= WORDS_REFRESH_SECONDS:
                with self.engine.connect() as connection:
                    self.words = tuple(connection.scalars(select(DefacementWord.word)))
                self.read_at = time.monotonic()
            return self.words

    def forget(self) -> None:
        with self.lock:
            self.read_at = -1e9


@dataclass(frozen=True)
class Loaded:
    monitor: Monitor
    baseline: Baseline | None


def load(engine: Engine, monitor_id: int) -> Loaded | None:
    with Session(engine, expire_on_commit=False) as session:
        monitor = session.get(Monitor, monitor_id, options=[defer(Monitor.candidate_text)])
        if monitor is None:
            return None
        row = session.get(MonitorBaseline, monitor_id, options=[defer(MonitorBaseline.text)])
        baseline = (
            None
            if row is None
            else Baseline(
                lambda: _baseline_text(engine, monitor_id),
                row.text_hash,
                row.title,
                tuple(row.domains or ()),
            )
        )
        session.expunge_all()
        return Loaded(monitor, baseline)


def _baseline_text(engine: Engine, monitor_id: int) -> str:
    with engine.connect() as connection:
        text = connection.scalar(
            select(MonitorBaseline.text).where(MonitorBaseline.monitor_id == monitor_id)
        )
    return text or ""


def probe_monitor(
    engine: Engine,
    monitor_id: int,
    words: Iterable[str],
    channels: Sequence[Channel] = (),
    claimed_by: str | None = None,
    addresses: AddressPolicy = AddressPolicy(),  # noqa: B008 (frozen: one shared default)
) -> Result | None:
    """Fetch and judge one monitor, then record it. None if the monitor no longer exists, or
    if an agent runs it (the page may be reachable only from inside; the server never fetches
    it, even when it was claimed just before it was moved to an agent)."""
    loaded = load(engine, monitor_id)
    if loaded is None or loaded.monitor.agent_id is not None:
        return None
    monitor = loaded.monitor
    fetched = fetch(
        monitor.url,
        timeout=monitor.timeout_seconds,
        follow_redirects=monitor.follow_redirects,
        max_redirects=monitor.max_redirects,
        ca_file=monitor.ca_file,
        addresses=addresses,
    )
    now = utcnow()
    result = judge_fetch(loaded, fetched, now, words)
    record(engine, monitor_id, result, now, channels, claimed_by)
    return result


def judge_fetch(
    loaded: Loaded, fetched: Fetch, now: datetime.datetime, words: Iterable[str]
) -> Result:
    """``judge`` for a loaded monitor; a bug in judging is a failed check, never an exception
    (it must stop neither the scheduler nor an agent's delivery)."""
    try:
        return judge(settings_of(loaded.monitor), fetched, now, loaded.baseline, words)
    except Exception as error:
        logger.exception("monitors: judging monitor %s failed", loaded.monitor.id)
        result = Result(ok=False, status_code=fetched.status, ms=fetched.ms)
        result.problems.append(f"internal error while judging: {type(error).__name__}")
        return result


def record(
    engine: Engine,
    monitor_id: int,
    result: Result,
    now: datetime.datetime,
    channels: Sequence[Channel] = (),
    claimed_by: str | None = None,
    agent_id: str | None = None,
    note: dict[str, object] | None = None,
) -> bool:
    """Write the result; False if nothing was written.

    ``agent_id``: the result comes from that agent's fetch at ``now``. It is written only if
    the monitor is (still) assigned to that agent, enabled, and has no result as recent: one
    conditional UPDATE decides, so a retried or late outcome, or two server processes
    receiving the same one, never record it twice. ``note`` is merged into ``last_result``."""
    with Session(engine, expire_on_commit=False) as session:
        if agent_id is not None:
            won = session.execute(
                update(Monitor)
                .where(
                    Monitor.id == monitor_id,
                    Monitor.agent_id == agent_id,
                    Monitor.enabled.is_(True),
                    or_(Monitor.last_checked_at.is_(None), Monitor.last_checked_at < now),
                )
                .values(last_checked_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if won != 1:
                session.rollback()
                return False
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            return False
        _record(session, monitor, result, now, channels)
        if note:
            monitor.last_result = {**(monitor.last_result or {}), **note}
        if claimed_by is None or monitor.claimed_by == claimed_by:
            monitor.claimed_by = None
            monitor.claimed_until = None
        session.commit()
        return True


def _record(
    session: Session,
    monitor: Monitor,
    result: Result,
    now: datetime.datetime,
    channels: Sequence[Channel],
) -> None:
    session.add(
        MonitorResult(
            monitor_id=monitor.id,
            at=now,
            ok=result.ok,
            status_code=result.status_code,
            ms=result.ms,
            problems=result.summary(),
        )
    )
    flap = advance(
        Flap(monitor.state, monitor.failures, monitor.successes),
        result.ok,
        monitor.fail_threshold,
        monitor.success_threshold,
    )
    if flap.state != monitor.state:
        monitor.state_since = now
        if flap.state == "down":
            monitor.last_reminder_at = now
    monitor.state, monitor.failures, monitor.successes = flap.state, flap.failures, flap.successes
    if result.ok:
        if result.slow:
            monitor.slow_streak, monitor.fast_streak = monitor.slow_streak + 1, 0
            if monitor.slow_streak >= monitor.fail_threshold:
                monitor.slow_active = True
        else:
            monitor.slow_streak, monitor.fast_streak = 0, monitor.fast_streak + 1
            if monitor.fast_streak >= monitor.success_threshold:
                monitor.slow_active = False
    monitor.last_checked_at = now
    monitor.last_result = result.as_json()
    _baseline_and_candidate(session, monitor, result, now)

    wanted: dict[str, tuple[str, str]] = {}  # kind -> (severity, message)
    if monitor.state == "down":
        wanted["down"] = (
            SEVERITY["down"],
            f"{monitor.url} is down: {'; '.join(result.problems) or 'failing'} "
            f"({monitor.failures} failed checks in a row)",
        )
    if monitor.slow_active:
        wanted["slow"] = (
            SEVERITY["slow"],
            f"{monitor.url} answered in {result.ms} ms, over its limit of {monitor.max_ms} ms",
        )
    if result.cert_problem:
        wanted["cert"] = (result.cert_severity or "high", f"{monitor.url}: {result.cert_problem}")
    verdict = result.verdict
    if verdict is not None and verdict.tampered:
        message = f"{monitor.url} differs from its baseline: {'; '.join(verdict.reasons)}"
        if verdict.diff:
            message += f"\n\n{verdict.diff}"
        wanted["tamper"] = (SEVERITY["tamper"], message[:MESSAGE_LENGTH])
    elif "tamper" in _kinds(monitor) and verdict is None:
        # The page could not be judged this time (down, not HTML): keep the tamper alert.
        wanted["tamper"] = ("", "")
    if "cert" in _kinds(monitor) and result.cert_problem == "" and result.status_code is None:
        wanted["cert"] = ("", "")  # no answer at all: the certificate was not seen, keep it

    muted = in_maintenance(monitor, now)
    engine = session.get_bind()
    insert = conflict_insert(engine)
    open_now = set(_kinds(monitor))
    for kind in list(open_now):
        if kind not in wanted:
            session.execute(
                update(Alert)
                .where(Alert.open_key == alert_key(kind, monitor.id))
                .values(resolved_at=now, open_key=None)
            )
            open_now.discard(kind)
    for kind, (severity, message) in wanted.items():
        if not severity:
            continue  # kept as it is
        if muted:
            continue  # checked and recorded, but a maintenance window opens no alert
        if kind in open_now and _still_open(session, kind, monitor.id):
            continue
        session.execute(
            insert(Alert)
            .values(
                kind=kind,
                severity=severity,
                agent_id=None,
                check_id=check_id(monitor.id),
                resource=monitor.url[:200],
                message=message,
                open_key=alert_key(kind, monitor.id),
                opened_at=now,
            )
            .on_conflict_do_nothing(index_elements=["open_key"])
        )
        open_now.add(kind)
    monitor.alerting = ",".join(sorted(open_now))
    if monitor.state == "down" and not muted and "down" in open_now:
        _remind(session, monitor, now, channels)


def _kinds(monitor: Monitor) -> list[str]:
    return [kind for kind in (monitor.alerting or "").split(",") if kind]


def _still_open(session: Session, kind: str, monitor_id: int) -> bool:
    """Whether the alert is still open (a person may have resolved it by hand)."""
    found = session.scalar(select(Alert.id).where(Alert.open_key == alert_key(kind, monitor_id)))
    return found is not None


def _baseline_and_candidate(
    session: Session, monitor: Monitor, result: Result, now: datetime.datetime
) -> None:
    snap = result.snapshot
    if snap is None:
        return
    if result.verdict is None:
        # No baseline yet (the page could not be fetched when the monitor was created): the
        # first good page becomes it. A page that failed a condition is not good: it may be
        # the defacement itself.
        if result.ok and session.get(MonitorBaseline, monitor.id) is None:
            session.add(
                MonitorBaseline(
                    monitor_id=monitor.id,
                    text_hash=snap.text_hash,
                    text=snap.text[:TEXT_LIMIT],
                    title=snap.title,
                    domains=list(snap.domains),
                    taken_at=now,
                    accepted_by="first good check",
                )
            )
        return
    if not result.status_accepted:
        return  # an error page is never offered as the new baseline
    if not result.verdict.text_changed and not result.verdict.new_domains:
        if monitor.candidate_hash is not None:
            monitor.candidate_hash = None
            monitor.candidate_text = None
            monitor.candidate_title = None
            monitor.candidate_domains = None
            monitor.candidate_at = None
        return
    if monitor.candidate_hash != snap.text_hash or monitor.candidate_domains != list(snap.domains):
        monitor.candidate_hash = snap.text_hash
        monitor.candidate_text = snap.text[:TEXT_LIMIT]
        monitor.candidate_title = snap.title
        monitor.candidate_domains = list(snap.domains)
        monitor.candidate_at = now


def _remind(
    session: Session, monitor: Monitor, now: datetime.datetime, channels: Sequence[Channel]
) -> None:
    if monitor.reminder_seconds <= 0 or not channels:
        return
    last = monitor.last_reminder_at or monitor.state_since or now
    if now - last < datetime.timedelta(seconds=monitor.reminder_seconds):
        return
    alert = session.scalar(select(Alert).where(Alert.open_key == alert_key("down", monitor.id)))
    if alert is None or alert.acknowledged_at is not None:
        return
    count = int((now - alert.opened_at).total_seconds() // monitor.reminder_seconds)
    insert = conflict_insert(session)
    for channel in channels:
        if channel.delay_seconds or not channel.wants(alert.severity):
            continue  # reminders go to the first tier; escalation handles the later ones
        session.execute(
            insert(AlertNotification)
            .values(
                alert_id=alert.id,
                channel=channel.name,
                event=f"remind{count}"[:16],
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=["alert_id", "channel", "event"])
        )
    monitor.last_reminder_at = now
