"""Results stored as change, not repetition (issue 15), on SQLite and PostgreSQL: unchanged
full scans write no result rows, a change ends one state and opens another, late and partial
reports are kept apart, the weekly report still counts every scan, the retention job forgets
what ended before the cutoff, the migration folds old per-report rows into states, and a
deleted host takes its states and latest results with it."""

from __future__ import annotations

import datetime
from pathlib import Path

from alembic import command
from sqlalchemy import func, inspect, select, text

from server.config import load_config
from server.jobs.runner import JOBS, JobContext, run_once
from server.store.agents import delete_agent
from server.store.migrate import alembic_config
from server.store.models import Agent, LatestResult, Report, ResultState, utcnow
from server.store.queries import latest_results
from tests.server.conftest import Server, SignedAgent
from tests.server.test_reports import _json_report, _result, _rows, last_week, send
from tests.server.test_reports_jobs import backdate_job, oplog_actions

JOB = {job.name: job for job in JOBS}


def _count(server: Server, model: type) -> int:
    with server.state.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _scan(status: str = "fail") -> list[dict]:
    return [
        _result("c.one", status, f"one is {status}", {"n": 1}),
        _result("c.two", "pass", "two is fine", {"n": 2}, resource="user:root"),
        _result("c.three", "not_applicable", "not here", {}),
    ]


def test_unchanged_scans_write_no_result_rows(server: Server, agent: SignedAgent) -> None:
    _week, start = last_week()
    for day in range(5):
        send(agent, start + datetime.timedelta(days=day), _scan())
    assert _count(server, Report) == 5
    assert _count(server, ResultState) == 3  # the first scan's; the other four changed nothing
    with server.state.sessions() as session:
        assert session.scalars(select(Report.in_states)).all() == [True] * 5
        row = session.get(Agent, agent.agent_id)
        assert row is not None
        assert row.scan_observed_at == (start + datetime.timedelta(days=4)).replace(tzinfo=None)
        assert all(state.ended_at is None for state in session.scalars(select(ResultState)))
        # What the console and the API show: observed at the last scan, not the first.
        shown = {result["observed_at"] for result in latest_results(session, agent.agent_id)}
    assert shown == {(start + datetime.timedelta(days=4)).strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_a_change_ends_its_state_and_the_week_counts_every_scan(
    server: Server, agent: SignedAgent, tmp_path: Path
) -> None:
    week, start = last_week()
    for day, status in ((1, "fail"), (2, "fail"), (3, "pass"), (4, "pass"), (5, "fail")):
        send(agent, start + datetime.timedelta(days=day), _scan(status))
    with server.state.sessions() as session:
        states = session.scalars(
            select(ResultState).where(ResultState.check_id == "c.one").order_by(ResultState.id)
        ).all()
        latest = session.get(LatestResult, (agent.agent_id, "c.one", "host"))
    assert [(state.status, state.ended_at is None) for state in states] == [
        ("fail", False),
        ("pass", False),
        ("fail", True),
    ]
    assert states[0].ended_at == (start + datetime.timedelta(days=3)).replace(tzinfo=None)
    assert _count(server, ResultState) == 5  # three first states, two changes of c.one
    assert latest is not None and latest.status == "fail"
    rows = {row["check_id"]: row for row in _rows(_json_report(server, week, tmp_path))}
    one = rows["c.one"]
    assert (one["status"], one["times_seen"], one["times_failed"]) == ("fail", 5, 3)
    assert (rows["c.two"]["times_seen"], rows["c.two"]["times_failed"]) == (5, 0)


def test_a_result_left_out_of_a_full_scan_ends_and_stops_counting(
    server: Server, agent: SignedAgent, tmp_path: Path
) -> None:
    week, start = last_week()
    send(agent, start + datetime.timedelta(days=1), _scan())
    send(agent, start + datetime.timedelta(days=2), _scan()[:2])
    send(agent, start + datetime.timedelta(days=3), _scan()[:2])
    rows = {row["check_id"]: row for row in _rows(_json_report(server, week, tmp_path))}
    assert rows["c.three"]["times_seen"] == 1
    assert rows["c.one"]["times_seen"] == 3
    with server.state.sessions() as session:
        assert session.get(LatestResult, (agent.agent_id, "c.three", "host")) is None


def test_a_late_report_is_kept_apart_and_changes_no_latest_result(
    server: Server, agent: SignedAgent, tmp_path: Path
) -> None:
    week, start = last_week()
    send(agent, start + datetime.timedelta(days=2), _scan("fail"))
    send(agent, start + datetime.timedelta(days=4), _scan("fail"))
    # Spooled while the PC was off the network: made before the two above, sent after.
    send(agent, start + datetime.timedelta(days=1), _scan("pass"))
    with server.state.sessions() as session:
        latest = session.get(LatestResult, (agent.agent_id, "c.one", "host"))
        late = session.scalars(select(Report).order_by(Report.id.desc())).first()
        apart = session.scalars(select(ResultState).where(ResultState.apart)).all()
    assert latest is not None and latest.status == "fail"
    assert late is not None and not late.in_states
    assert len(apart) == 3
    one = {row["check_id"]: row for row in _rows(_json_report(server, week, tmp_path))}["c.one"]
    assert (one["status"], one["times_seen"], one["times_failed"]) == ("fail", 3, 2)
    # The next in-order scan that equals the latest ones still changes nothing.
    send(agent, start + datetime.timedelta(days=5), _scan("fail"))
    assert _count(server, ResultState) == 6


def test_the_retention_job_forgets_what_ended_before_the_cutoff(
    server: Server, agent: SignedAgent
) -> None:
    now = utcnow()
    old = now - datetime.timedelta(days=400)
    send(agent, old, _scan("fail"))
    send(agent, old + datetime.timedelta(days=1), _scan("pass"))
    send(agent, now - datetime.timedelta(days=1), _scan("pass"))
    assert (_count(server, Report), _count(server, ResultState)) == (3, 4)
    backdate_job(server, "results_purge", days=2)
    context = JobContext(server.state.engine, server.data, load_config(server.data))
    done = run_once(context, JOB["results_purge"], "purger")
    assert done is not None and "1 result state(s), 2 report(s)" in done, done
    # The states still open stay: they are the host's present.
    assert (_count(server, Report), _count(server, ResultState)) == (1, 3)
    [entry] = oplog_actions(server, "results.purge")
    assert entry.outcome == "ok"
    assert run_once(context, JOB["results_purge"], "purger") is None  # not due for a day


def test_the_migration_folds_old_results_into_states(server: Server, agent: SignedAgent) -> None:
    _week, start = last_week()
    for day, status in ((1, "fail"), (2, "fail"), (3, "pass")):
        send(agent, start + datetime.timedelta(days=day), _scan(status))
    engine = server.state.engine
    command.downgrade(alembic_config(engine), "0022_console")  # before issue 15
    with engine.connect() as connection:
        # One row per result per report, as before issue 15.
        assert connection.execute(text("SELECT COUNT(*) FROM results")).scalar() == 9
    command.upgrade(alembic_config(engine), "heads")
    with server.state.sessions() as session:
        states = session.scalars(select(ResultState).order_by(ResultState.id)).all()
        row = session.get(Agent, agent.agent_id)
        assert session.scalars(select(Report.in_states)).all() == [True] * 3
    assert sorted((s.check_id, s.status, s.ended_at is None) for s in states) == [
        ("c.one", "fail", False),
        ("c.one", "pass", True),
        ("c.three", "not_applicable", True),
        ("c.two", "pass", True),
    ]
    assert row is not None and row.scan_digest is not None
    assert row.scan_observed_at == (start + datetime.timedelta(days=3)).replace(tzinfo=None)
    send(agent, start + datetime.timedelta(days=4), _scan("pass"))
    if engine.dialect.name == "sqlite":
        # The same digests as intake's: the next unchanged scan writes no state. (PostgreSQL's
        # jsonb gives the evidence back normalised, so there a state may open once more.)
        assert _count(server, ResultState) == 4


def _agents_holding(server: Server, model: type) -> set[str]:
    with server.state.sessions() as session:
        return set(session.scalars(select(model.agent_id).distinct()))


def test_deleting_a_host_deletes_its_states_and_latest_results(server: Server) -> None:
    """No foreign key holds these rows to their host (migration 0025): ``delete_agent`` must
    delete them, and only the host's own."""
    _week, start = last_week()
    kept, deleted = server.enroll("pc-kept"), server.enroll("pc-deleted")
    for day, status in ((1, "fail"), (2, "pass")):
        for one in (kept, deleted):
            send(one, start + datetime.timedelta(days=day), _scan(status))
    both = {kept.agent_id, deleted.agent_id}
    assert _agents_holding(server, ResultState) == _agents_holding(server, LatestResult) == both
    with server.state.sessions() as session:
        delete_agent(session, deleted.agent_id)
        session.commit()
        assert session.get(Agent, deleted.agent_id) is None
        assert session.scalar(select(func.count()).where(Report.agent_id == deleted.agent_id)) == 0
    assert _agents_holding(server, ResultState) == {kept.agent_id}
    assert _agents_holding(server, LatestResult) == {kept.agent_id}
    assert _count(server, ResultState) == 4  # the kept host's: c.one ended and reopened


def test_the_migration_drops_the_foreign_keys_and_keeps_the_rows(
    server: Server, agent: SignedAgent
) -> None:
    _week, start = last_week()
    for day, status in ((1, "fail"), (2, "pass")):
        send(agent, start + datetime.timedelta(days=day), _scan(status))
    engine = server.state.engine

    def described() -> tuple[list[tuple], list[tuple], dict[str, list]]:
        with engine.connect() as connection:
            states = connection.execute(select(ResultState).order_by(ResultState.id)).all()
            latest = connection.execute(select(LatestResult).order_by(LatestResult.check_id))
            schema = inspect(connection)
            keys = {
                table: schema.get_foreign_keys(table)
                for table in ("result_states", "latest_results")
            }
            return [tuple(row) for row in states], [tuple(row) for row in latest], keys

    states, latest, keys = described()
    assert keys == {"result_states": [], "latest_results": []}
    command.downgrade(alembic_config(engine), "0024_failing_index")
    old_states, old_latest, old_keys = described()
    assert [key["referred_table"] for key in old_keys["result_states"]] == ["agents"]
    assert [key["referred_table"] for key in old_keys["latest_results"]] == ["agents"]
    command.upgrade(alembic_config(engine), "heads")
    assert described() == (states, latest, keys) == (old_states, old_latest, keys)
    with engine.connect() as connection:
        indexes = inspect(connection).get_indexes("latest_results")
    if engine.dialect.name == "sqlite":
        # SQLite's copy of the table keeps the console's index partial (migration 0024).
        failing = next(index for index in indexes if index["name"] == "ix_latest_results_failing")
        assert "status = 'fail'" in str(failing["dialect_options"]["sqlite_where"])
    send(agent, start + datetime.timedelta(days=3), _scan("fail"))  # the copies take writes
    assert _count(server, ResultState) == 5


def test_a_partial_report_makes_the_next_full_scan_rewrite_the_latest_results(
    server: Server, agent: SignedAgent
) -> None:
    _week, start = last_week()
    send(agent, start + datetime.timedelta(days=1), _scan("fail"))
    # A report of another kind with one result moves that latest result...
    partial = agent.report(
        created_at=(start + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        kind="spot_check",
        results=[_result("c.one", "pass", "one is pass", {"n": 1})],
    )
    assert agent.send_report(partial).status_code == 200
    with server.state.sessions() as session:
        latest = session.get(LatestResult, (agent.agent_id, "c.one", "host"))
        assert latest is not None and latest.status == "pass"
    # ...so the next full scan, equal to the first, is not taken as unchanged: it puts the
    # latest result back to what it says.
    send(agent, start + datetime.timedelta(days=3), _scan("fail"))
    with server.state.sessions() as session:
        latest = session.get(LatestResult, (agent.agent_id, "c.one", "host"))
        apart = session.scalars(select(ResultState).where(ResultState.apart)).all()
        row = session.get(Agent, agent.agent_id)
    assert latest is not None and latest.status == "fail"
    assert [(state.check_id, state.status) for state in apart] == [("c.one", "pass")]
    assert row is not None and row.scan_digest is not None
    assert _count(server, ResultState) == 4  # the first scan's three, the partial's one


def _said(message_id: str, **params: str) -> list[dict]:
    return [
        _result(
            "firewall.host_firewall",
            "fail",
            "no firewall",
            {},
            message_id=message_id,
            params=params,
        )
    ]


def test_what_a_result_said_is_part_of_its_value(server: Server, agent: SignedAgent) -> None:
    """``said`` (the message id and its parameters, issue 13) is kept on the state and the
    latest row, and a new message id with the same English message is a change."""
    _week, start = last_week()
    send(agent, start + datetime.timedelta(days=1), _said("firewall.accepts_inbound"))
    send(agent, start + datetime.timedelta(days=2), _said("firewall.accepts_inbound"))
    assert _count(server, ResultState) == 1
    send(agent, start + datetime.timedelta(days=3), _said("firewall.no_kernel_filter"))
    send(agent, start + datetime.timedelta(days=4), _said("firewall.no_kernel_filter", n="2"))
    with server.state.sessions() as session:
        states = session.scalars(select(ResultState).order_by(ResultState.id)).all()
        latest = session.get(LatestResult, (agent.agent_id, "firewall.host_firewall", "host"))
    assert [state.said for state in states] == [
        {"id": "firewall.accepts_inbound", "params": {}},
        {"id": "firewall.no_kernel_filter", "params": {}},
        {"id": "firewall.no_kernel_filter", "params": {"n": "2"}},
    ]
    assert latest is not None
    assert latest.said == {"id": "firewall.no_kernel_filter", "params": {"n": "2"}}
    # The migration keeps it: back to per-report rows and folded again.
    engine = server.state.engine
    command.downgrade(alembic_config(engine), "0022_console")
    with engine.connect() as connection:
        kept = connection.execute(text("SELECT COUNT(*) FROM results WHERE said IS NOT NULL"))
        assert kept.scalar() == 4
    command.upgrade(alembic_config(engine), "heads")
    with server.state.sessions() as session:
        again = session.scalars(select(ResultState).order_by(ResultState.id)).all()
    assert [state.said for state in again] == [state.said for state in states]
