"""The compliance counts behind the dashboard: today's per group, and one row per past day.

Counting compliance reads every latest result (400,000 rows at 10,000 hosts x 40 checks):
too slow for each dashboard view. So the counts are taken in the background and stored in
``fleet_compliance_daily``, one row per day (in ``console_timezone``) and group. During the
day the day's rows are recounted every ``fleet_recount_seconds`` (config.json, default 300),
and sooner when a report arrived after the last count: FRESH_SECONDS after it, so the
figures are current within a minute of a report (CHECK_SECONDS + FRESH_SECONDS) without
counting at every view of a busy fleet. The dashboard's table (today's rows) says when it was
counted; each past day keeps its last counts, for the chart.

Every server process runs the thread. ``fleet_snapshot_days`` holds one row per day: the
lease. A process takes it by INSERT ... ON CONFLICT (day) DO NOTHING (the first count of the
day) or by a conditional UPDATE of a row older than the refresh interval; only the process
whose statement changed a row counts, so two processes never count the same period twice. The
counting itself runs outside any write transaction (on SQLite a long write would hold up
report intake); its rows are then upserted in one short transaction. A process that dies
after taking the lease leaves the old counts in place until the lease runs out.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import Engine, and_, or_, select, update

from server.fleet.models import ComplianceDaily, SnapshotDay
from server.fleet.store import compliance_select
from server.state import EXTENSION_KEY, ServerState
from server.store.engine import conflict_insert
from server.store.models import Report, utcnow

# The dashboard's compliance is at most this old (config fleet_recount_seconds, its default).
REFRESH_SECONDS = 300
# How often each process looks whether a recount is due, at most.
CHECK_SECONDS = 20
# Counts older than the newest report are due once they are this old: a burst of reports
# (every PC scanning at 09:00) makes one recount, not one per report.
FRESH_SECONDS = 30
logger = logging.getLogger("xunjian.server.fleet")


def newest_report_at(engine: Engine) -> datetime.datetime | None:
    """When the newest report arrived: through the primary key, so one index probe however
    many reports are stored (received_at has no index of its own)."""
    with engine.connect() as connection:
        return connection.scalar(select(Report.received_at).order_by(Report.id.desc()).limit(1))


def _claim(
    engine: Engine, day: datetime.date, now: datetime.datetime, who: str, interval: int
) -> bool:
    due = now - datetime.timedelta(seconds=interval)
    newest = newest_report_at(engine)
    stale = SnapshotDay.taken_at <= due
    if newest is not None:
        stale = or_(
            stale,
            and_(
                SnapshotDay.taken_at < newest,
                SnapshotDay.taken_at <= now - datetime.timedelta(seconds=FRESH_SECONDS),
            ),
        )
    first = (
        conflict_insert(engine)(SnapshotDay)
        .values(day=day, taken_at=now, taken_by=who)
        .on_conflict_do_nothing(index_elements=["day"])
        # psycopg reports an INSERT's rowcount only when SQLAlchemy is asked to keep it.
        .execution_options(preserve_rowcount=True)
    )
    again = (
        update(SnapshotDay)
        .where(SnapshotDay.day == day, stale)
        .values(taken_at=now, taken_by=who)
        .execution_options(preserve_rowcount=True)
    )
    with engine.begin() as connection:
        if connection.execute(first).rowcount == 1:
            return True
        return connection.execute(again).rowcount == 1


def local_day(moment: datetime.datetime, zone: str) -> datetime.date:
    """The date in ``zone`` of a stored (naive UTC) time."""
    return moment.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo(zone)).date()


def refresh_compliance(
    engine: Engine,
    now: datetime.datetime | None = None,
    who: str | None = None,
    interval: int = REFRESH_SECONDS,
    zone: str = "UTC",
) -> bool:
    """Count today's compliance per group (today in ``zone``, the console's: the chart's days
    and weeks are the ones people live in) if no process did in the last ``interval`` seconds,
    or in the last FRESH_SECONDS when a report arrived since. True if this call counted."""
    now = now or utcnow()
    day = local_day(now, zone)
    who = (who or f"{socket.gethostname()}:{os.getpid()}")[:64]
    if not _claim(engine, day, now, who, interval):
        return False
    with engine.connect() as connection:
        rows = [
            {
                "day": day,
                "group_id": row.group_id,
                "hosts": int(row.hosts),
                "passed": int(row.passed),
                "failed": int(row.failed),
                "taken_at": now,
            }
            for row in connection.execute(compliance_select())
        ]
    if not rows:
        return True
    statement = conflict_insert(engine)(ComplianceDaily)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "group_id"],
        set_={
            "hosts": statement.excluded.hosts,
            "passed": statement.excluded.passed,
            "failed": statement.excluded.failed,
            "taken_at": statement.excluded.taken_at,
        },
    )
    with engine.begin() as connection:
        connection.execute(statement, rows)
    return True


class SnapshotWorker(threading.Thread):
    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(name="xunjian-fleet-compliance", daemon=True)
        self.state = state
        self.stop = stop

    def run(self) -> None:
        # The first look a few seconds after start (not at once: the server is busy starting).
        delay = 5.0
        while not self.stop.wait(delay):
            delay = min(CHECK_SECONDS, self.state.config.fleet_recount_seconds)
            self.tick()

    def tick(self) -> None:
        interval = self.state.config.fleet_recount_seconds
        try:
            zone = self.state.config.console_timezone
            if refresh_compliance(self.state.engine, interval=interval, zone=zone):
                logger.info("fleet: compliance counted")
        except Exception:
            logger.exception("fleet: counting compliance failed; trying again later")


def start_snapshot_worker(app: Flask, stop: threading.Event) -> SnapshotWorker:
    worker = SnapshotWorker(app.extensions[EXTENSION_KEY], stop)
    worker.start()
    return worker
