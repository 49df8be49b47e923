"""Retention of results and their history (issue 15): the daily ``results_purge`` job follows
``results_retention_days`` (not the operation log's setting), deletes what ended before the
cutoff with the reports' gaps, keeps what did not and a host's open states however old, runs
once however many server instances tick, and leaves the weekly reports of every week inside
the kept period byte for byte as they were. On SQLite and, with XUNJIAN_TEST_DATABASE_URL,
PostgreSQL (where a gap left behind would be a foreign key error)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from server.config import ConfigError, ServerConfig, load_config
from server.files.models import FileEvent
from server.jobs.lease import release, try_acquire
from server.jobs.runner import JOBS, JobContext, run_once
from server.reports.formats import FORMATS
from server.reports.generate import build_files
from server.reports.week import IsoWeek, last_complete_week
from server.settings.runtime import SettingError, set_setting
from server.store.models import Agent, Gap, LatestResult, Report, ResultState, utcnow
from server.store.states import purge_history
from tests.server.conftest import Server, SignedAgent
from tests.server.test_reports import ZONE, _result, _when, enrolled_long_ago
from tests.server.test_reports_jobs import backdate_job, oplog_actions

JOB = {job.name: job for job in JOBS}
DAY = datetime.timedelta(days=1)
HISTORY_DAYS = 280  # how far back the hosts' reports go: beyond any retention tried here


def _scan(day: int, host: int) -> list[dict]:
    """One full scan on ``day`` (days before now): a check that never changes (its state
    opens at the first scan and stays open), one that flips every ten days, one whose
    evidence grows every three weeks, and one that is there only some of the time."""
    flips = "fail" if (day // 10 + host) % 2 else "pass"
    results = [
        _result("r.steady", "pass", "steady as ever", {"n": host}),
        _result("r.flips", flips, f"flips is {flips}", {"n": 1}),
        _result("r.grows", "fail", "pending updates", {"pending": day // 21}, severity="high"),
    ]
    if day % 30 < 12:
        results.append(_result("r.comes", "fail", "a USB disk", {"disk": "sdb"}, resource="sdb"))
    return results


@dataclass
class History:
    now: datetime.datetime
    agents: list[SignedAgent]
    sent: dict[int, datetime.datetime]  # report id -> created_at


def _send(agent: SignedAgent, at: datetime.datetime, **changes: object) -> None:
    answer = agent.send_report(agent.report(created_at=_when(at), **changes))
    assert answer.status_code == 200, answer.get_data(as_text=True)


def _history(server: Server) -> History:
    """Two hosts' reports over the last HISTORY_DAYS days: full scans every three days, a
    partial report now and then (kept apart), and gaps reported along the way."""
    now = utcnow().replace(microsecond=0)
    agents = [server.enroll("pc-keep-a"), server.enroll("pc-keep-b", group="lab")]
    for host, agent in enumerate(agents):
        enrolled_long_ago(server, agent, now - datetime.timedelta(days=HISTORY_DAYS + 5))
        for day in range(HISTORY_DAYS, 0, -3):
            at = now - day * DAY + datetime.timedelta(hours=host)
            gaps = [{"from_seq": 900 + day, "to_seq": 901 + day, "reason": "spool full"}]
            _send(agent, at, results=_scan(day, host), gaps=gaps if day % 15 == 1 else [])
            if day % 12 == 1:
                partial = [_result("r.flips", "error", "timed out", {"seconds": 30})]
                _send(agent, at + datetime.timedelta(hours=2), kind="spot_check", results=partial)
    with server.state.sessions() as session:
        sent = {row.id: row.created_at for row in session.scalars(select(Report))}
    return History(now=now, agents=agents, sent=sent)


def _weeks_inside(now: datetime.datetime, cutoff: datetime.datetime) -> list[IsoWeek]:
    """Every complete week that begins at or after the cutoff."""
    weeks = []
    week = last_complete_week(now, ZONE)
    while week.bounds(ZONE)[0] >= cutoff:
        weeks.append(week)
        week = week.previous()
    return weeks


def _week_files(server: Server, weeks: list[IsoWeek], folder: Path) -> dict[str, bytes]:
    """Every format of every week, as ``xunjian server report weekly`` writes them, made at
    one fixed moment (the files say when they were made)."""
    made = datetime.datetime(2030, 1, 7, 9, 0)
    files: dict[str, bytes] = {}
    for week in weeks:
        out = folder / str(week)
        out.mkdir(parents=True, exist_ok=True)
        built = build_files(
            server.state.engine, server.data, week, ZONE, FORMATS, out, "tests", made
        )
        for key, path in built.files.items():
            files[f"{week}/{key}"] = path.read_bytes()
    return files


def _state_ids(server: Server) -> dict[int, tuple[datetime.datetime | None, bool]]:
    with server.state.sessions() as session:
        return {
            state.id: (state.ended_at, state.apart)
            for state in session.scalars(select(ResultState))
        }


def _purge(server: Server, now: datetime.datetime, holder: str = "instance-a") -> str | None:
    backdate_job(server, "results_purge", days=2)
    context = JobContext(server.state.engine, server.data, load_config(server.data))
    return run_once(context, JOB["results_purge"], holder, now)


def test_the_purge_follows_the_setting_and_keeps_the_kept_weeks_byte_for_byte(
    server: Server, tmp_path: Path
) -> None:
    history = _history(server)
    now = history.now
    with server.state.sessions() as session:
        # The operation log's own retention is lower: the results purge must not follow it.
        set_setting(session, "oplog_retention_days", 60, "admin")
        set_setting(session, "results_retention_days", 250, "admin")
        session.commit()
        gaps_before = {gap.id: gap.report_id for gap in session.scalars(select(Gap))}
        latest_before = sorted(
            (row.agent_id, row.check_id, row.resource, row.status, row.report_id)
            for row in session.scalars(select(LatestResult))
        )
    states_before = _state_ids(server)
    # Two runs, a day apart at least (the job is daily): the second, at 180 days, cuts here.
    runs = ((250, now), (180, now + 2 * DAY))
    kept_weeks = _weeks_inside(now, runs[-1][1] - 180 * DAY)
    assert len(kept_weeks) >= 24
    before = _week_files(server, kept_weeks, tmp_path / "before")
    # The comparison means something only if the weeks hold results, and a week outside the
    # kept period does change (the purge took what it needed).
    assert all(len(data) > 0 for data in before.values())
    outside = last_complete_week(now - 220 * DAY, ZONE)
    outside_before = _week_files(server, [outside], tmp_path / "outside-before")

    for retention, moment in runs:
        with server.state.sessions() as session:
            set_setting(session, "results_retention_days", retention, "admin")
            session.commit()
        cutoff = moment - retention * DAY
        done = _purge(server, moment)
        assert done is not None and f"older than {retention} days" in done, done
        with server.state.sessions() as session:
            reports = {row.id: row.created_at for row in session.scalars(select(Report))}
            gaps = {gap.id: gap.report_id for gap in session.scalars(select(Gap))}
        # Reports: exactly those made before the cutoff are gone, with their gaps.
        assert reports == {i: at for i, at in history.sent.items() if at >= cutoff}
        assert gaps == {i: report for i, report in gaps_before.items() if report in reports}
        assert len(gaps) < len(gaps_before) and gaps
        # States: exactly those that ended before the cutoff are gone; open ones stay.
        states = _state_ids(server)
        assert states == {
            i: (ended, apart)
            for i, (ended, apart) in states_before.items()
            if ended is None or ended >= cutoff
        }
        entry = oplog_actions(server, "results.purge")[-1]
        assert entry.actor == "system:scheduler"
        assert json.loads(entry.details or "{}")["retention_days"] == retention

    with server.state.sessions() as session:
        steady = session.scalars(
            select(ResultState).where(ResultState.check_id == "r.steady")
        ).all()
        latest_after = sorted(
            (row.agent_id, row.check_id, row.resource, row.status, row.report_id)
            for row in session.scalars(select(LatestResult))
        )
        oldest = session.scalar(select(Report.created_at).order_by(Report.created_at))
    # A host's present is never purged: r.steady's states opened HISTORY_DAYS ago and stay.
    assert len(steady) == 2 and all(state.ended_at is None for state in steady)
    assert all(state.observed_at < now - 270 * DAY for state in steady)
    assert oldest is not None and oldest >= now - 178 * DAY
    assert latest_after == latest_before
    after = _week_files(server, kept_weeks, tmp_path / "after")
    assert after.keys() == before.keys()
    changed = [name for name in before if before[name] != after[name]]
    assert changed == []
    assert _week_files(server, [outside], tmp_path / "outside-after") != outside_before


def test_the_purge_runs_once_across_instances(server: Server) -> None:
    history = _history(server)
    now = history.now
    backdate_job(server, "results_purge", days=2)
    context = JobContext(server.state.engine, server.data, load_config(server.data))
    # Instance b holds the lease (it is running the job): instance a does nothing.
    assert try_acquire(
        server.state.engine, "results_purge", "instance-b", JOB["results_purge"].lease
    )
    assert run_once(context, JOB["results_purge"], "instance-a", now) is None
    assert len(_state_ids(server)) > 0
    with server.state.sessions() as session:
        assert len(session.scalars(select(Report.id)).all()) == len(history.sent)
    # b gives the lease back without having run it (it stopped); then one instance runs the
    # job, and the other, ticking after it, finds it not due for a day.
    assert release(server.state.engine, "results_purge", "instance-b", None, None)
    done = run_once(context, JOB["results_purge"], "instance-a", now)
    assert done is not None and "report(s)" in done
    assert run_once(context, JOB["results_purge"], "instance-b", now) is None
    assert len(oplog_actions(server, "results.purge")) == 1


def test_results_retention_below_six_months_is_refused_everywhere(server: Server) -> None:
    base = {"database_url": "sqlite://"}
    assert ServerConfig.from_mapping(base).results_retention_days == 180
    longer = ServerConfig.from_mapping({**base, "results_retention_days": 400})
    assert longer.results_retention_days == 400
    for bad, why in (
        (179, "at least six months by national law: at least 180 days"),
        (60, "at least 180 days"),
        (36501, "at most 36500"),
        (True, "whole number|must be int"),
    ):
        with pytest.raises(ConfigError, match=why):
            ServerConfig.from_mapping({**base, "results_retention_days": bad})
        with server.state.sessions() as session, pytest.raises(SettingError, match=why):
            set_setting(session, "results_retention_days", bad, "admin")
    with server.state.sessions() as session:
        set_setting(session, "results_retention_days", 180, "admin")  # the floor itself is fine


def test_a_purge_with_nothing_to_forget_logs_nothing(server: Server, agent: SignedAgent) -> None:
    now = utcnow()
    _send(agent, now - 10 * DAY, results=_scan(10, 0))
    done = _purge(server, now)
    assert done is not None and "0 result state(s), 0 report(s) and 0 file event(s)" in done, done
    assert oplog_actions(server, "results.purge") == []
    with server.state.sessions() as session:
        row = session.get(Agent, agent.agent_id)
        assert row is not None and row.scan_digest is not None
    assert json.dumps(sorted(_state_ids(server)))  # still there


def test_file_events_received_before_the_cutoff_go_with_the_history(
    server: Server, agent: SignedAgent
) -> None:
    now = utcnow().replace(microsecond=0)
    for day in (300, 200, 170, 10):
        at = now - day * DAY
        event = {
            "action": "modified",
            "path": f"/srv/www/page-{day}.html",
            "folder": "/srv/www",
            "folder_kind": "web_root",
            "observed_at": _when(at),
        }
        _send(agent, at, kind="file_events", results=[], inventory=None, file_events=[event])
    with server.state.engine.begin() as connection:
        # Received when they were made (intake stamps the arrival; these arrived long ago).
        for event in connection.execute(select(FileEvent.id, FileEvent.observed_at)).all():
            connection.execute(
                update(FileEvent).where(FileEvent.id == event.id).values(received_at=event[1])
            )
    done = _purge(server, now)
    assert done is not None and "2 file event(s)" in done, done
    with server.state.sessions() as session:
        paths = sorted(session.scalars(select(FileEvent.path)).all())
    assert paths == ["/srv/www/page-10.html", "/srv/www/page-170.html"]
    [entry] = oplog_actions(server, "results.purge")
    assert json.loads(entry.details or "{}")["file_events"] == 2


def test_a_purge_in_small_batches_deletes_exactly_the_same(server: Server) -> None:
    history = _history(server)
    cutoff = history.now - 200 * DAY
    with server.state.sessions() as session:
        gaps_before = {gap.id: gap.report_id for gap in session.scalars(select(Gap))}
    states_before = _state_ids(server)
    # Seven rows a transaction: many batches, the last one short.
    purged = purge_history(server.state.engine, cutoff, batch=7)
    kept_states = {
        i: value for i, value in states_before.items() if value[0] is None or value[0] >= cutoff
    }
    kept_reports = {i: at for i, at in history.sent.items() if at >= cutoff}
    assert _state_ids(server) == kept_states
    with server.state.sessions() as session:
        reports = {row.id: row.created_at for row in session.scalars(select(Report))}
        gaps = {gap.id: gap.report_id for gap in session.scalars(select(Gap))}
    assert reports == kept_reports
    assert gaps == {i: report for i, report in gaps_before.items() if report in reports}
    assert purged.states == len(states_before) - len(kept_states) > 7
    assert purged.reports == len(history.sent) - len(kept_reports) > 7
    assert purged.gaps == len(gaps_before) - len(gaps) > 0
