"""The daily digest (POLICY.md E7): every working day (Monday to Friday, in
``monitor_digest_timezone``) at ``monitor_digest_time``, a report of every page checked, its
uptime over the last day and any change, sent to the on-call roster's first tier through the
configured notifiers. Sent once per day whatever number of server processes run: the day's
``digest:YYYY-MM-DD`` row in ``monitor_jobs`` is claimed by INSERT before sending.

When no roster is configured, every channel that is told at once gets it. It travels as the
notifiers' notice kind ``digest`` (not an alert kind: no alert row stands behind it).

Other features add their lines with :func:`add_section` from their ``install(app)`` (site
health, server/sites/digest.py): the digest knows none of them, so no feature above it is
imported here.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from server.alerts.channels import Channel
from server.alerts.models import Alert
from server.config import system_timezone
from server.monitors.history import DAY, claim_job, set_outcome, uptimes
from server.monitors.models import Monitor
from server.monitors.settings import DEFAULT_DIGEST_TIME, DEFAULT_DIGEST_TIMEZONE
from server.notify import AlertMessage, LocalText, NoticeKind, NotifierError, Severity
from server.store.models import utcnow

logger = logging.getLogger("xunjian.server.monitors")
MAX_LISTED = 200
DEFAULT_TIME = DEFAULT_DIGEST_TIME
# The zone when a caller names none (the server's jobs pass console_timezone's when
# monitor_digest_timezone is left empty): console_timezone's default, the machine's own zone.
DEFAULT_TIMEZONE = DEFAULT_DIGEST_TIMEZONE or system_timezone()

# A section's lines for the day: (Chinese lines, English lines), from the store at ``now``,
# times in the digest's zone (the third argument), which the digest names.
Section = Callable[[Engine, datetime.datetime, str], tuple[list[str], list[str]]]
_SECTIONS: dict[str, Section] = {}


def add_section(name: str, section: Section) -> None:
    """Have the digest carry ``section``'s lines after the pages' (once per name: each app
    made in a process installs its features again)."""
    _SECTIONS[name] = section


def due_day(
    now: datetime.datetime, at: str = DEFAULT_TIME, zone: str = DEFAULT_TIMEZONE
) -> datetime.date | None:
    """The local working day whose digest is due at ``now`` (naive UTC), or None."""
    local = now.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo(zone))
    hour, minute = (int(part) for part in at.split(":"))
    if local.weekday() >= 5 or (local.hour, local.minute) < (hour, minute):
        return None
    return local.date()


def first_tier(channels: Sequence[Channel]) -> list[Channel]:
    if any(channel.tier is not None for channel in channels):
        return [channel for channel in channels if channel.tier == 1]
    return [channel for channel in channels if channel.delay_seconds == 0]


@dataclass(frozen=True)
class Line:
    name: str
    url: str
    state: str
    uptime: float | None
    alerts: tuple[str, ...]
    changed: bool


def compose(
    engine: Engine, now: datetime.datetime, day: datetime.date, zone: str = DEFAULT_TIMEZONE
) -> AlertMessage:
    since = now - DAY
    with Session(engine) as session:
        monitors = list(
            session.execute(
                select(
                    Monitor.id, Monitor.name, Monitor.url, Monitor.state, Monitor.candidate_hash
                ).order_by(Monitor.id)
            )
        )
        opened: dict[str, list[str]] = {}
        for check, kind in session.execute(
            select(Alert.check_id, Alert.kind).where(
                Alert.agent_id.is_(None),
                Alert.check_id.like("monitor:%"),
                Alert.opened_at >= since,
            )
        ):
            opened.setdefault(check, []).append(kind)
        still_open = session.scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.check_id.like("monitor:%"), Alert.resolved_at.is_(None))
        )
    up = uptimes(engine, [row.id for row in monitors], [DAY], now)
    lines = [
        Line(
            row.name,
            row.url,
            row.state,
            up[row.id][0].percent,
            tuple(sorted(set(opened.get(f"monitor:{row.id}", [])))),
            row.candidate_hash is not None,
        )
        for row in monitors
    ]
    troubled = [line for line in lines if line.state != "up" or line.alerts or line.changed]
    listed = (troubled + [line for line in lines if line not in troubled])[:MAX_LISTED]
    zh = [f"共检查 {len(lines)} 个页面，{len(troubled)} 个需要关注，未关闭告警 {still_open} 条。"]
    en = [
        f"{len(lines)} pages checked, {len(troubled)} need attention, "
        f"{still_open} monitor alerts open."
    ]
    states_zh = {"up": "正常", "pending": "待定", "down": "故障"}
    for line in listed:
        uptime = "-" if line.uptime is None else f"{line.uptime:.2f}%"
        change_zh = "，页面有变化" if line.changed else ""
        change_en = ", page changed" if line.changed else ""
        alerts = f" [{', '.join(line.alerts)}]" if line.alerts else ""
        zh.append(
            f"- {line.name} ({line.url})：{states_zh.get(line.state, line.state)}，"
            f"24小时可用率 {uptime}{change_zh}{alerts}"
        )
        en.append(
            f"- {line.name} ({line.url}): {line.state}, uptime 24h {uptime}{change_en}{alerts}"
        )
    if len(lines) > len(listed):
        zh.append(f"……另有 {len(lines) - len(listed)} 个页面正常，未列出。")
        en.append(f"... and {len(lines) - len(listed)} more pages, all up.")
    for name, section in sorted(_SECTIONS.items()):
        try:
            more_zh, more_en = section(engine, now, zone)
        except Exception:  # one feature's failure must not cost the whole digest
            logger.exception("monitors: the digest's %s section failed", name)
            continue
        zh += more_zh
        en += more_en
    return AlertMessage(
        alert_id=f"digest-{day:%Y-%m-%d}",
        # A notice, not an alert: the channels title it "[日报] ..." and show no severity.
        kind=NoticeKind.DIGEST,
        severity=Severity.INFO,
        title=LocalText(f"页面巡检 {day:%Y-%m-%d}", f"Page checks {day:%Y-%m-%d}"),
        body=LocalText("\n".join(zh), "\n".join(en)),
        subject="页面监控 / page monitors",
        # In the digest's own zone, so the time shown matches the hour it is due at.
        opened_at=now.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo(zone)),
    )


def send_digest_if_due(
    engine: Engine,
    channels: Sequence[Channel],
    at: str = DEFAULT_TIME,
    zone: str = DEFAULT_TIMEZONE,
    now: datetime.datetime | None = None,
) -> str | None:
    """Send today's digest if it is due and no process sent it yet. Returns the outcome text
    for the process that sent it, None otherwise."""
    now = now or utcnow()
    day = due_day(now, at, zone)
    if day is None:
        return None
    name = f"digest:{day:%Y-%m-%d}"
    targets = first_tier(channels)
    if not claim_job(engine, name, "sending"):
        return None
    if not targets:
        outcome = "no channel on the first tier; nothing sent"
        set_outcome(engine, name, outcome)
        return outcome
    message = compose(engine, now, day, zone)
    results = []
    for channel in targets:
        try:
            delivery = channel.notifier().send(message)
        except NotifierError as error:
            logger.warning("monitors: daily digest via %s failed: %s", channel.name, error)
            results.append(f"{channel.name}: failed ({type(error).__name__})")
        except Exception:
            logger.exception("monitors: daily digest via %s crashed", channel.name)
            results.append(f"{channel.name}: crashed")
        else:
            results.append(f"{channel.name}: sent to {delivery.target}")
    outcome = "; ".join(results)
    set_outcome(engine, name, outcome)
    logger.info("monitors: daily digest %s: %s", day, outcome)
    return outcome
