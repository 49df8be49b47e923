"""The scheduled jobs and the thread that runs them in every server worker process.

Every ``TICK_SECONDS`` each process walks the jobs in ``JOBS``. For each: make sure its lease
row exists, try to take the lease (server/jobs/lease.py), and only while holding it ask whether
the job is due and run it; then give the lease back, recording the outcome. The due test reads
what the last run left behind (the lease row's last success, or the kept report itself), and
that is written before the lease is given back, so the other process, taking the lease next,
finds the job no longer due: each job runs once per period however many processes tick.

Jobs (docs/reports.md, docs/operations.md):

* ``weekly_report``: from Monday 00:30 server local time, keep the report of the week that just
  ended (``server.reports.generate.keep_week``), unless it is kept already or there is nothing
  to report (no agent enrolled before the week ended). Logged as ``report.generate``.
* ``oplog_purge``: every 24 hours, the operation log purge (``OperationLog.purge``, the code
  behind ``xunjian server oplog purge``), which logs itself as ``oplog.purge``.
* ``reports_purge``: every 24 hours, delete kept weekly reports older than
  ``KEEP_WEEKS`` weeks; logged as ``report.purge`` when it deleted any.
* ``evidence_purge``: every 24 hours, the evidence retention (``server.evidence.retention``):
  archives past ``evidence_retention_days`` not held by an incident, uploads abandoned for a
  week, files no row describes; one ``evidence.purge`` entry each.
* ``results_purge``: every 24 hours, forget result states that ended and reports made more
  than ``results_retention_days`` ago (at least the six months the law asks of logs), with
  the reports' gaps, and the file events received before then (``server.files.retention``);
  a host's open states stay whatever their age (``server.store.states.purge_history``).
  Logged as ``results.purge`` when it deleted any.
* ``oplog_sign``: every tick, sign the operation log's head when entries after its newest
  checkpoint wait unsigned (``OperationLog.sign_tail``), so even an idle log's unsigned tail
  is about a minute old at most (appends sign by count and by age themselves).

A job that never ran is due one period after its row was made, so a new server does nothing
in its first second; the weekly report is due as soon as its week is over.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from server.config import ServerConfig
from server.evidence import retention as evidence_retention
from server.files.retention import purge_events
from server.jobs.lease import (
    LeaseState,
    ensure_row,
    mark_started,
    read_state,
    release,
    try_acquire,
)
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.signing import ANCHORS_NAME
from server.oplog.store import OperationLog
from server.reports.generate import KEEP_WEEKS, keep_week, purge_expired, scheduled_exists
from server.reports.week import IsoWeek, last_complete_week, zone_of
from server.settings.runtime import effective_settings
from server.store.models import Agent, Report, utcnow
from server.store.states import purge_history

TICK_SECONDS = 60
FIRST_TICK_SECONDS = (1.0, 5.0)  # a random start, so two processes rarely tick together
DAY = datetime.timedelta(days=1)
WEEKLY_REPORT_DELAY = datetime.timedelta(minutes=30)
# A job that failed waits this long before the next attempt, so a lasting fault (a full disk)
# is retried, not hammered every minute.
RETRY_AFTER = datetime.timedelta(minutes=15)
ACTOR = "system:scheduler"
logger = logging.getLogger("xunjian.server.jobs")


@dataclass(frozen=True)
class JobContext:
    engine: Engine
    data_dir: Path
    config: ServerConfig

    @property
    def zone(self) -> datetime.tzinfo:
        return zone_of(self.config)

    def oplog(self, retention_days: int | None = None) -> OperationLog:
        settings = OplogSettings.from_config(self.config)
        if retention_days is not None:
            settings = dataclasses.replace(settings, retention_days=retention_days)
        return OperationLog(self.engine, self.data_dir, settings)

    def log_event(self, action: str, target: str, details: dict[str, Any]) -> None:
        self.oplog().append(
            EntryFields.make(action, actor=ACTOR, role="system", target=target, details=details)
        )


@dataclass(frozen=True)
class Job:
    name: str
    lease: datetime.timedelta
    is_due: Callable[[JobContext, LeaseState, datetime.datetime], bool]
    run: Callable[[JobContext, datetime.datetime], str]


# -- weekly report ------------------------------------------------------------------------


def _week_to_report(context: JobContext, now: datetime.datetime) -> IsoWeek:
    return last_complete_week(now, context.zone)


def _anything_to_report(context: JobContext, week: IsoWeek) -> bool:
    engine = context.engine
    start, end = week.bounds(context.zone)
    with Session(engine) as session:
        enrolled = session.scalar(select(func.count()).where(Agent.enrolled_at < end))
        if enrolled:
            return True
        dated = session.scalar(
            select(func.count()).where(Report.created_at >= start, Report.created_at < end)
        )
    return bool(dated)


def weekly_report_due(context: JobContext, _state: LeaseState, now: datetime.datetime) -> bool:
    week = _week_to_report(context, now)
    if now < week.bounds(context.zone)[1] + WEEKLY_REPORT_DELAY:
        return False
    with Session(context.engine) as session:
        if scheduled_exists(session, week):
            return False
    return _anything_to_report(context, week)


def run_weekly_report(context: JobContext, now: datetime.datetime) -> str:
    week = _week_to_report(context, now)
    row = keep_week(context.engine, context.data_dir, week, context.zone, "schedule", ACTOR)
    if row is None:
        return f"the report of {week} was kept by another process"
    context.log_event(
        "report.generate",
        f"week:{week}",
        {
            "trigger": "schedule",
            "report_id": row.id,
            "hosts": row.hosts,
            "rows": row.rows,
            "report_sha256": row.report_sha256,
        },
    )
    return f"kept the weekly report of {week}: {row.hosts} hosts, {row.rows} rows (id {row.id})"


# -- daily purges -------------------------------------------------------------------------


def daily_due(_context: JobContext, state: LeaseState, now: datetime.datetime) -> bool:
    return now - state.since_success() >= DAY


def _retention_days(context: JobContext, name: str = "oplog_retention_days") -> int:
    """A retention in force: the console's run-time setting, else config.json's."""
    with Session(context.engine) as session:
        return int(getattr(effective_settings(session, context.config), name))


def run_oplog_purge(context: JobContext, now: datetime.datetime) -> str:
    retention = _retention_days(context)
    result = context.oplog(retention).purge(
        EntryFields.make("oplog.purge", actor=ACTOR, role="system")
    )
    return (
        f"operation log purge: {result.purged} entries older than {retention} days removed "
        f"(through entry {result.through_seq}); logged as entry {result.entry.seq}"
    )


def run_reports_purge(context: JobContext, now: datetime.datetime) -> str:
    purged = purge_expired(context.engine, context.data_dir, now)
    if purged:
        context.log_event(
            "report.purge",
            "weekly_reports",
            {"purged": purged, "keep_weeks": KEEP_WEEKS},
        )
    return f"weekly reports purge: {purged} report(s) older than {KEEP_WEEKS} weeks removed"


def run_evidence_purge(context: JobContext, now: datetime.datetime) -> str:
    with Session(context.engine) as session:
        days = int(effective_settings(session, context.config).evidence_retention_days)
    result = evidence_retention.purge(
        context.engine, context.data_dir, days, context.log_event, now
    )
    if result.problems:
        # Recorded on the lease row as the run's error; what could be removed was, and logged.
        raise RuntimeError(result.summary(days))
    return result.summary(days)


def run_results_purge(context: JobContext, now: datetime.datetime) -> str:
    retention = _retention_days(context, "results_retention_days")
    cutoff = now - datetime.timedelta(days=retention)
    purged = purge_history(context.engine, cutoff)
    events = purge_events(context.engine, cutoff)
    if purged.states or purged.reports or events:
        context.log_event(
            "results.purge",
            "result_states",
            {
                "states": purged.states,
                "reports": purged.reports,
                "gaps": purged.gaps,
                "file_events": events,
                "retention_days": retention,
            },
        )
    return (
        f"results purge: {purged.states} result state(s), {purged.reports} report(s) and "
        f"{events} file event(s) older than {retention} days removed"
    )


def every_tick(_context: JobContext, _state: LeaseState, _now: datetime.datetime) -> bool:
    return True


def run_oplog_sign(context: JobContext, _now: datetime.datetime) -> str:
    signed = context.oplog().sign_tail()
    return "nothing unsigned" if signed is None else f"signed the head at entry {signed.seq}"


JOBS: tuple[Job, ...] = (
    Job("weekly_report", datetime.timedelta(hours=2), weekly_report_due, run_weekly_report),
    Job("oplog_purge", datetime.timedelta(minutes=30), daily_due, run_oplog_purge),
    Job("reports_purge", datetime.timedelta(minutes=30), daily_due, run_reports_purge),
    Job("evidence_purge", datetime.timedelta(minutes=30), daily_due, run_evidence_purge),
    Job("results_purge", datetime.timedelta(minutes=30), daily_due, run_results_purge),
    Job("oplog_sign", datetime.timedelta(minutes=5), every_tick, run_oplog_sign),
)


def holder_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(4)}"


def _backing_off(state: LeaseState, now: datetime.datetime) -> bool:
    return (
        state.last_outcome == "error"
        and state.last_finished_at is not None
        and now - state.last_finished_at < RETRY_AFTER
    )


def run_once(
    context: JobContext, job: Job, holder: str, now: datetime.datetime | None = None
) -> str | None:
    """Run ``job`` if this process gets its lease and it is due; returns what it did, or None
    when it did not run. Errors are recorded on the lease row and raised."""
    ensure_row(context.engine, job.name)
    if not try_acquire(context.engine, job.name, holder, job.lease):
        return None
    outcome: str | None = None
    error: str | None = None
    try:
        state = read_state(context.engine, job.name)
        moment = now or utcnow()
        if state is None or _backing_off(state, moment) or not job.is_due(context, state, moment):
            return None
        mark_started(context.engine, job.name, holder)
        outcome = "error"
        try:
            done = job.run(context, moment)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            raise
        outcome = "ok"
        return done
    finally:
        if not release(context.engine, job.name, holder, outcome, error) and outcome:
            logger.warning("jobs: the lease of %s expired while it ran", job.name)


def start_anchor_file(context: JobContext) -> None:
    """Sign the log's head into this data folder's anchor file when it has none yet.

    Each instance appends the checkpoints it signs to its own data folder's anchor file, and
    the signing jobs run in one instance at a time (the lease): a second instance of a
    scaled-out server (docs/operations.md) might never sign, and ``oplog verify`` with its data
    folder would find checkpoints but no anchor file. Starting the file at start-up (or at the
    first tick that can) makes every instance's file a witness from then on. A log without
    entries has nothing to sign."""
    if (context.data_dir / ANCHORS_NAME).exists():
        return
    try:
        signed = context.oplog().checkpoint("start")
    except Exception:
        logger.exception("jobs: could not start the operation log's anchor file")
        return
    if signed is not None:
        logger.info("jobs: the operation log's anchor file starts at entry %s", signed.seq)


class JobRunner(threading.Thread):
    def __init__(
        self, context: JobContext, stop: threading.Event, jobs: tuple[Job, ...] = JOBS
    ) -> None:
        super().__init__(name="xunjian-jobs", daemon=True)
        self.context = context
        self.stop = stop
        self.jobs = jobs
        self.holder = holder_name()

    def run(self) -> None:
        if self.stop.wait(random.uniform(*FIRST_TICK_SECONDS)):
            return
        while True:
            # At every tick until it exists: a start on a full disk must not leave it unstarted.
            start_anchor_file(self.context)
            self.tick()
            if self.stop.wait(TICK_SECONDS):
                return

    def tick(self) -> None:
        for job in self.jobs:
            if self.stop.is_set():
                return
            try:
                done = run_once(self.context, job, self.holder)
            except Exception:
                logger.exception("jobs: %s failed; it is tried again at a later tick", job.name)
                continue
            if done:
                logger.info("jobs: %s", done)


def start_job_runner(app: Any, stop: threading.Event) -> JobRunner:
    """Start the jobs thread of one server process (server/serve.py)."""
    from server.state import EXTENSION_KEY

    state = app.extensions[EXTENSION_KEY]
    runner = JobRunner(JobContext(state.engine, state.paths.root, state.config), stop)
    runner.start()
    return runner
