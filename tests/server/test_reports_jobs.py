"""Scheduled jobs (server/jobs) on SQLite and PostgreSQL: a lease taken by a conditional UPDATE
makes a job run once when two processes race for it; the weekly report is kept from Monday
00:30 once per week; the daily operation log purge and the kept reports' retention."""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
import textwrap
import threading
import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from server.config import load_config
from server.jobs.lease import ensure_row, read_state, try_acquire
from server.jobs.models import JobLease
from server.jobs.runner import JOBS, Job, JobContext, LeaseState, run_once
from server.oplog.models import OplogEntry
from server.reports.generate import KEEP_WEEKS, keep_week
from server.reports.models import WeeklyReport
from server.reports.week import last_complete_week
from server.store.engine import make_engine
from server.store.models import Agent, utcnow
from tests.server.conftest import Server, SignedAgent

ZONE = ZoneInfo("Asia/Shanghai")
JOB = {job.name: job for job in JOBS}


def context_of(server: Server, engine=None) -> JobContext:
    return JobContext(engine or server.state.engine, server.data, load_config(server.data))


def backdate_job(server: Server, name: str, days: int) -> None:
    engine = server.state.engine
    ensure_row(engine, name)
    with engine.begin() as connection:
        connection.execute(
            update(JobLease)
            .where(JobLease.name == name)
            .values(created_at=utcnow() - datetime.timedelta(days=days))
        )


def oplog_actions(server: Server, action: str) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(session.scalars(select(OplogEntry).where(OplogEntry.action == action)))


def test_two_racers_run_a_job_exactly_once(server: Server) -> None:
    runs: list[str] = []
    lock = threading.Lock()

    def due(_context: JobContext, state: LeaseState, _now: datetime.datetime) -> bool:
        return state.last_success_at is None

    def work(_context: JobContext, _now: datetime.datetime) -> str:
        time.sleep(0.3)  # long enough for the other racer to try while this one holds the lease
        with lock:
            runs.append(threading.current_thread().name)
        return "ran"

    job = Job("test_once", datetime.timedelta(minutes=5), due, work)
    url = server.state.engine.url
    for _round in range(3):
        barrier = threading.Barrier(2)
        outcomes: list[str | None] = []

        def race(
            barrier: threading.Barrier = barrier, outcomes: list[str | None] = outcomes
        ) -> None:
            engine = make_engine(url.render_as_string(hide_password=False))
            try:
                barrier.wait()
                outcomes.append(run_once(context_of(server, engine), job, f"racer-{id(engine)}"))
            finally:
                engine.dispose()

        threads = [threading.Thread(target=race, name=f"racer-{n}") for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(outcomes) == 2 and outcomes.count("ran") <= 1, outcomes
    assert len(runs) == 1
    state = read_state(server.state.engine, "test_once")
    assert state is not None and state.last_outcome == "ok"


def test_a_lease_expires_when_its_holder_died(server: Server) -> None:
    engine = server.state.engine
    ensure_row(engine, "test_lease")
    assert try_acquire(engine, "test_lease", "dead", datetime.timedelta(minutes=5))
    assert not try_acquire(engine, "test_lease", "alive", datetime.timedelta(minutes=5))
    later = utcnow() + datetime.timedelta(minutes=6)
    assert try_acquire(engine, "test_lease", "alive", datetime.timedelta(minutes=5), now=later)


PROCESS_RACER = textwrap.dedent(
    """
    import sys
    import time
    from pathlib import Path

    from server.config import load_config
    from server.jobs.runner import JOBS, JobContext, holder_name, run_once
    from server.store.engine import make_engine

    data = Path(sys.argv[1])
    config = load_config(data)
    engine = make_engine(config.database_url)
    job = {job.name: job for job in JOBS}[sys.argv[2]]
    start = float(sys.argv[3])
    time.sleep(max(0.0, start - time.time()))
    print(run_once(JobContext(engine, data, config), job, holder_name()))
    engine.dispose()
    """
)


def test_two_processes_purge_the_operation_log_once(server: Server) -> None:
    backdate_job(server, "oplog_purge", days=2)
    start = time.time() + 3
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_RACER, str(server.data), "oplog_purge", str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=120) for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), outputs
    printed = sorted(out.strip() for out, _err in outputs)
    assert printed[0] == "None" and printed[1].startswith("operation log purge"), printed
    purges = oplog_actions(server, "oplog.purge")
    assert [(entry.actor, entry.role) for entry in purges] == [("system:scheduler", "system")]
    # Not due again for a day.
    assert run_once(context_of(server), JOB["oplog_purge"], "again") is None


def test_the_scheduler_signs_an_idle_operation_log_tail(server: Server) -> None:
    from server.oplog.models import OplogCheckpoint

    context = context_of(server)
    context.log_event("test.event", "t", {})  # one entry; not yet a checkpoint's worth
    with server.state.sessions() as session:
        before = list(session.scalars(select(OplogCheckpoint.seq)))
        head = session.scalar(select(func.max(OplogEntry.seq)))
    assert head not in before
    outcome = run_once(context, JOB["oplog_sign"], "signer")
    assert outcome is not None and f"entry {head}" in outcome
    with server.state.sessions() as session:
        assert head in set(session.scalars(select(OplogCheckpoint.seq)))
    assert run_once(context, JOB["oplog_sign"], "signer") == "nothing unsigned"


def test_a_new_server_purges_nothing_on_its_first_day(server: Server) -> None:
    assert run_once(context_of(server), JOB["oplog_purge"], "first") is None
    assert oplog_actions(server, "oplog.purge") == []


# The test reads times in Shanghai; the default is the machine's own zone (issue 13 item 6).
@pytest.mark.parametrize("server_settings", [{"console_timezone": "Asia/Shanghai"}])
def test_weekly_report_is_kept_once_from_monday_0030(server: Server, agent: SignedAgent) -> None:
    week = last_complete_week(utcnow(), ZONE)
    start, end = week.bounds(ZONE)
    with server.state.engine.begin() as connection:
        connection.execute(
            update(Agent)
            .where(Agent.id == agent.agent_id)
            .values(enrolled_at=start - datetime.timedelta(days=3))
        )
    answer = agent.send_report(
        agent.report(
            created_at=(start + datetime.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
    )
    assert answer.status_code == 200
    context = context_of(server)
    job = JOB["weekly_report"]
    # Monday 00:10 local: not yet.
    assert run_once(context, job, "early", now=end + datetime.timedelta(minutes=10)) is None
    done = run_once(context, job, "on-time", now=end + datetime.timedelta(minutes=31))
    assert done is not None and f"of {week}" in done
    assert run_once(context, job, "again", now=end + datetime.timedelta(minutes=40)) is None
    with server.state.sessions() as session:
        kept = session.scalars(select(WeeklyReport)).all()
    assert [(row.week, row.scheduled_week, row.trigger, row.hosts) for row in kept] == [
        (str(week), str(week), "schedule", 1)
    ]
    entries = oplog_actions(server, "report.generate")
    assert len(entries) == 1 and entries[0].target == f"week:{week}"
    assert json.loads(entries[0].details)["report_id"] == kept[0].id


def test_the_scheduled_report_of_a_week_is_unique(server: Server, agent: SignedAgent) -> None:
    week = last_complete_week(utcnow(), ZONE)
    engine, data = server.state.engine, server.data
    assert keep_week(engine, data, week, ZONE, "schedule", "a") is not None
    # Even a second generation past the lease (e.g. an expired one) keeps nothing more.
    assert keep_week(engine, data, week, ZONE, "schedule", "b") is None
    assert keep_week(engine, data, week, ZONE, "console", "c") is not None
    with server.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WeeklyReport)) == 2
    # two reports, five files each: JSON, and CSV and XLSX in Chinese and in English
    assert len(list((data / "reports").iterdir())) == 10


def test_nothing_to_report_on_a_new_server(server: Server) -> None:
    end = last_complete_week(utcnow(), ZONE).bounds(ZONE)[1]
    moment = end + datetime.timedelta(hours=1)
    assert run_once(context_of(server), JOB["weekly_report"], "x", now=moment) is None


def test_kept_reports_past_retention_are_purged_and_logged(
    server: Server, agent: SignedAgent
) -> None:
    engine, data = server.state.engine, server.data
    week = last_complete_week(utcnow(), ZONE)
    old = keep_week(engine, data, week, ZONE, "console", "tests")
    recent = keep_week(engine, data, week, ZONE, "console", "tests")
    assert old is not None and recent is not None
    with engine.begin() as connection:
        connection.execute(
            update(WeeklyReport)
            .where(WeeklyReport.id == old.id)
            .values(period_end=utcnow() - datetime.timedelta(weeks=KEEP_WEEKS + 1))
        )
    backdate_job(server, "reports_purge", days=2)
    done = run_once(context_of(server), JOB["reports_purge"], "purger")
    assert done is not None and "1 report" in done
    with server.state.sessions() as session:
        assert [row.id for row in session.scalars(select(WeeklyReport))] == [recent.id]
    names = {item.name for item in (data / "reports").iterdir()}
    assert names == {entry["name"] for entry in recent.files.values()}
    entries = oplog_actions(server, "report.purge")
    assert len(entries) == 1 and json.loads(entries[0].details)["purged"] == 1


def test_a_failing_job_is_recorded_and_waits_before_retrying(server: Server) -> None:
    calls: list[int] = []

    def broken(_context: JobContext, _now: datetime.datetime) -> str:
        calls.append(1)
        raise OSError("disk full")

    job = Job("test_broken", datetime.timedelta(minutes=5), lambda *_: True, broken)
    with pytest.raises(OSError):
        run_once(context_of(server), job, "h")
    state = read_state(server.state.engine, "test_broken")
    assert state is not None and state.last_outcome == "error"
    assert run_once(context_of(server), job, "h") is None  # backing off
    assert calls == [1]
    later = utcnow() + datetime.timedelta(minutes=16)
    with pytest.raises(OSError):
        run_once(context_of(server), job, "h", now=later)
    assert calls == [1, 1]
