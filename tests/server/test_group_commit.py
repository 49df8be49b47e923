"""Group commit (server/intake/writer.py) on SQLite and PostgreSQL: many reports in one
transaction, each stored once however often it arrives, a report that cannot be stored failing
alone, and SQLite writers of two processes taking turns on the lock file."""

from __future__ import annotations

import datetime
import multiprocessing
import threading
from typing import Any

import pytest
from sqlalchemy import func, select, update

from server.alerts.models import Alert
from server.alerts.silent import sweep_silent_agents
from server.intake import report as report_module
from server.intake import writer as writer_module
from server.intake.report import REFUSED, ingest_report, prepare
from server.intake.writer import GroupWriter, _Pending, group_writer
from server.store.agents import revoke_agent
from server.store.engine import make_engine
from server.store.models import Agent, LatestResult, Report, ResultState, utcnow
from tests.harness import wait_for
from tests.server.conftest import Server, SignedAgent, unknown_agent_id
from tests.server.test_alerts import result
from xunjian.core.contract import bodies
from xunjian.core.schema import convert


def _count(server: Server, model: type) -> int:
    with server.state.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _document(agent: SignedAgent, seq: int, **changes: Any) -> bodies.Report:
    return convert(agent.report(seq=seq, **changes), bodies.Report)


def test_reports_arriving_together_share_transactions_and_each_lands_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents = [server.enroll(f"pc-{n}") for n in range(6)]
    sizes: list[int] = []
    write_batch = writer_module._write_batch

    def counted(connection: Any, batch: list[_Pending]) -> None:
        sizes.append(len(batch))
        write_batch(connection, batch)

    monkeypatch.setattr(writer_module, "_write_batch", counted)
    # Every agent's reports 1..5, and report 1 of each twice more (retries racing the first).
    work = [(agent, seq) for agent in agents for seq in range(1, 6)]
    work += [(agent, 1) for agent in agents] * 2
    documents = [(agent.agent_id, _document(agent, seq)) for agent, seq in work]
    outcomes: list[Any] = []
    barrier = threading.Barrier(len(documents))

    def send(agent_id: str, document: bodies.Report) -> None:
        barrier.wait()
        outcomes.append(ingest_report(server.state.engine, agent_id, document))

    threads = [threading.Thread(target=send, args=pair) for pair in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(outcome.stored for outcome in outcomes) == 30
    assert sum(outcome.duplicate for outcome in outcomes) == 12
    assert _count(server, Report) == 30
    assert _count(server, ResultState) == 6 * 3  # each agent's first scan; the rest unchanged
    assert sum(sizes) == len(documents) and max(sizes) > 1, sizes


def _refuse_reports_of(server: Server, agent_id: str) -> None:
    """A trigger that makes the database refuse this agent's reports (a write that fails for
    a reason of the database's own, like a full disk or a broken constraint)."""
    with server.state.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON reports "
                f"WHEN NEW.agent_id = '{agent_id}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.agent_id = '{agent_id}' THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON reports "
                "FOR EACH ROW EXECUTE FUNCTION refuse_one()"
            )


def test_a_report_that_cannot_be_stored_fails_alone(server: Server) -> None:
    good = [server.enroll(f"pc-{n}") for n in range(2)]
    doomed = server.enroll("pc-doomed")
    _refuse_reports_of(server, doomed.agent_id)
    stranger = server.enroll("pc-gone")
    # Its agent row is gone, as if deleted mid-request: refused (not an error) by the write.
    gone_document = _document(stranger, 1, agent_id=unknown_agent_id())
    batch = [
        _Pending(prepare(good[0].agent_id, _document(good[0], 1))),
        _Pending(prepare(doomed.agent_id, _document(doomed, 1))),
        _Pending(prepare(gone_document.agent_id, gone_document)),
        _Pending(prepare(good[1].agent_id, _document(good[1], 1))),
    ]
    engine = server.state.engine
    writer = GroupWriter(engine)
    connection = writer._commit(engine, engine.connect(), batch)
    connection.close()
    assert all(pending.done.is_set() for pending in batch)
    assert batch[0].report_id is not None and batch[3].report_id is not None
    assert batch[0].report_id > 0 and batch[3].report_id > 0
    assert batch[1].report_id is None and batch[1].error is not None
    assert batch[2].report_id == REFUSED and batch[2].error is None
    assert _count(server, Report) == 2


def test_disposing_the_engine_lets_an_idle_writers_connection_go(server: Server) -> None:
    """An idle writer keeps its connection for IDLE_SECONDS (30 s) in case more reports come;
    ``Engine.dispose()`` (an app torn down) ends it at once, and the next report starts a
    writer on the new pool. Without that, each disposed engine held a PostgreSQL connection
    for half a minute and a busy test run met "too many clients"."""
    agent = server.enroll("pc-1")
    engine = server.state.engine
    assert ingest_report(engine, agent.agent_id, _document(agent, 1)).stored
    old_pool = engine.pool
    assert old_pool.checkedout() == 1  # the idle writer's connection
    engine.dispose()
    wait_for("the writer to let its connection go", lambda: old_pool.checkedout() == 0, 10, 0.02)
    wait_for("the writer to end", lambda: not group_writer(engine)._running, 10, 0.02)
    # Closed for real, not left open in the disposed pool for the garbage collector (the pool
    # keeps the emptied record: QueuePool's queue, SQLAlchemy's own attribute).
    assert [record.dbapi_connection for record in old_pool._pool.queue] == [None]  # type: ignore[attr-defined]
    assert ingest_report(engine, agent.agent_id, _document(agent, 2)).stored
    assert engine.pool is not old_pool and engine.pool.checkedout() == 1
    assert _count(server, Report) == 2


def test_a_first_report_racing_another_of_its_host_is_stored_once(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host without latest results gets them by plain INSERTs (server/intake/report.py). If
    another process committed that host's rows after this transaction read none, the INSERT
    fails on the key: nothing of the report is kept, and the retry (the agent API's view, or
    the agent) reads the rows and upserts. Simulated by hiding the rows from the first read."""
    agent = server.enroll("pc-1")
    engine = server.state.engine
    assert ingest_report(engine, agent.agent_id, _document(agent, 1)).stored
    with server.state.sessions() as session:
        # As after a partial report: the next full scan compares in full.
        session.query(Agent).filter_by(id=agent.agent_id).update({"scan_digest": None})
        session.commit()
    detect = report_module.detect_alerts
    hidden = [True]

    def first_read_misses_the_rows(*args: Any, **kwargs: Any) -> bool | None:
        found = detect(*args, **kwargs)
        if hidden and found:
            hidden.pop()
            return False
        return found

    monkeypatch.setattr(report_module, "detect_alerts", first_read_misses_the_rows)
    changed = agent.report(seq=2)
    changed["results"][0]["message"] = "changed since"
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        ingest_report(engine, agent.agent_id, convert(changed, bodies.Report))
    assert _count(server, Report) == 1  # the failed write kept nothing
    assert not hidden
    answer = agent.send_report(changed)  # the retry
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert _count(server, Report) == 2
    with server.state.sessions() as session:
        messages = set(
            session.scalars(
                select(LatestResult.message).where(LatestResult.agent_id == agent.agent_id)
            )
        )
    assert "changed since" in messages


def _write_from_another_process(database_url: str, agent_id: str, documents: list[dict]) -> None:
    engine = make_engine(database_url)
    try:
        for document in documents:
            ingest_report(engine, agent_id, convert(document, bodies.Report))
    finally:
        engine.dispose()


def test_two_processes_write_one_sqlite_database_in_turns(
    server: Server, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the lock file is SQLite's; PostgreSQL needs none")
    first, second = server.enroll("pc-1"), server.enroll("pc-2")
    context = multiprocessing.get_context("fork")
    child = context.Process(
        target=_write_from_another_process,
        args=(database_url, second.agent_id, [second.report(seq=n) for n in range(1, 41)]),
    )
    child.start()
    for seq in range(1, 41):
        ingest_report(server.state.engine, first.agent_id, _document(first, seq))
    child.join(120)
    assert child.exitcode == 0
    assert _count(server, Report) == 80
    assert group_writer(server.state.engine)._lock_path is not None


def _when(hours_ago: int) -> str:
    moment = utcnow() - datetime.timedelta(hours=hours_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scan(agent: SignedAgent, seq: int, hours_ago: int, **statuses: str) -> bodies.Report:
    results = [result(check_id, status) for check_id, status in statuses.items()]
    return _document(agent, seq, results=results, created_at=_when(hours_ago))


# Each host's story: what it sent before, one report at a time, and what it sends in the
# batch under test. Together they take every way through the writer (server/intake/report.py
# Writer.write), with and without reading ahead (writer.py _read_ahead).
def _stories(agent: SignedAgent, name: str) -> tuple[list[bodies.Report], list[bodies.Report]]:
    scan = lambda seq, hours, **statuses: _scan(agent, seq, hours, **statuses)  # noqa: E731
    before = {
        "first": [],
        "unchanged": [scan(1, 5, a="pass", b="fail")],
        "changed": [scan(1, 5, a="fail", b="pass")],
        "left out": [scan(1, 5, a="fail", b="pass")],
        "late": [scan(1, 5, a="pass"), scan(2, 1, a="pass")],
        "retry": [scan(1, 5, a="fail")],
        "revoked": [],
        "twice": [],
        "silent": [scan(1, 5, a="pass")],
        "after a partial": [
            scan(1, 5, a="fail", b="pass"),
            _document(
                agent,
                2,
                kind="spot_check",
                results=[result("a", "pass")],
                created_at=_when(4),
            ),
        ],
    }[name]
    batch = {
        "first": [scan(1, 0, a="fail", b="pass")],
        "unchanged": [scan(2, 0, a="pass", b="fail")],
        "changed": [scan(2, 0, a="pass", b="fail")],
        "left out": [scan(2, 0, b="pass")],
        "late": [scan(3, 3, a="fail")],
        "retry": [scan(1, 5, a="fail")],
        "revoked": [scan(1, 0, a="fail")],
        "twice": [scan(1, 1, a="fail", b="pass"), scan(2, 0, a="pass", b="pass")],
        "silent": [scan(2, 0, a="fail")],
        "after a partial": [scan(3, 0, a="fail", b="fail")],
    }[name]
    return before, batch


def revoke_agent_now(server: Server, agent_id: str) -> None:
    with server.state.sessions() as session:
        assert revoke_agent(session, agent_id)
        session.commit()


def _host_state(server: Server, agent_id: str) -> tuple[Any, ...]:
    """Everything stored of a host, without ids and times: what must not depend on how its
    reports were batched."""
    with server.state.sessions() as session:
        latest = session.execute(
            select(LatestResult.check_id, LatestResult.status, LatestResult.message)
            .where(LatestResult.agent_id == agent_id)
            .order_by(LatestResult.check_id)
        ).all()
        states = session.execute(
            select(ResultState.check_id, ResultState.status, ResultState.apart)
            .add_columns(ResultState.ended_at.is_(None))
            .where(ResultState.agent_id == agent_id)
            .order_by(ResultState.check_id, ResultState.id)
        ).all()
        alerts = session.execute(
            select(Alert.kind, Alert.check_id)
            .add_columns(Alert.resolved_at.is_(None))
            .where(Alert.agent_id == agent_id)
            .order_by(Alert.kind, Alert.check_id, Alert.id)
        ).all()
        reports = session.execute(
            select(Report.seq, Report.in_states)
            .where(Report.agent_id == agent_id)
            .order_by(Report.seq)
        ).all()
        digest = session.scalar(select(Agent.scan_digest).where(Agent.id == agent_id))
    return (
        [tuple(row) for row in latest],
        [tuple(row) for row in states],
        [tuple(row) for row in alerts],
        [tuple(row) for row in reports],
        digest is not None,
    )


NAMES = [
    "first",
    "unchanged",
    "changed",
    "left out",
    "late",
    "retry",
    "revoked",
    "twice",
    "silent",
    "after a partial",
]


def test_every_kind_of_report_in_one_batch_ends_as_if_written_alone(server: Server) -> None:
    """Two hosts per story: one's batch reports are written in one transaction (on
    PostgreSQL read ahead: all heads first, then the reads), its twin's one report per
    transaction. Both must end the same, outcome by outcome and row by row."""
    engine = server.state.engine
    offline_after = server.state.config.offline_after_seconds
    together: list[tuple[str, bodies.Report]] = []
    alone: list[tuple[str, bodies.Report]] = []
    pairs: list[tuple[str, str, str]] = []
    for name in NAMES:
        twins = [server.enroll(f"{name.replace(' ', '-')}-{n}") for n in range(2)]
        for twin, queue in zip(twins, (together, alone), strict=True):
            before, batch = _stories(twin, name)
            for document in before:
                assert ingest_report(engine, twin.agent_id, document).stored, name
            queue.extend((twin.agent_id, document) for document in batch)
        pairs.append((name, twins[0].agent_id, twins[1].agent_id))
        if name == "revoked":
            for twin in twins:
                revoke_agent_now(server, twin.agent_id)
        if name == "silent":
            with engine.begin() as connection:
                connection.execute(
                    update(Agent)
                    .where(Agent.id.in_([twin.agent_id for twin in twins]))
                    .values(last_seen=utcnow() - datetime.timedelta(hours=2))
                )
            assert sweep_silent_agents(engine, offline_after).opened >= 2
    batch = [_Pending(prepare(agent_id, document)) for agent_id, document in together]
    with engine.connect() as connection:
        writer_module._write_batch(connection, batch)
    singles = [_Pending(prepare(agent_id, document)) for agent_id, document in alone]
    for pending in singles:
        with engine.connect() as connection:
            writer_module._write_batch(connection, [pending])

    def outcome(pending: _Pending) -> str:
        return {None: "duplicate", REFUSED: "refused"}.get(pending.report_id, "stored")

    assert [outcome(p) for p in batch] == [outcome(p) for p in singles]
    assert [outcome(p) for p in batch].count("stored") == len(batch) - 2
    for name, batched, single in pairs:
        assert _host_state(server, batched) == _host_state(server, single), name
    # The stories did what they say (a check that the comparison compares something).
    changed_host = next(batched for name, batched, _single in pairs if name == "changed")
    latest, _states, alerts, _reports, consistent = _host_state(server, changed_host)
    assert [(check, status) for check, status, _message in latest] == [("a", "pass"), ("b", "fail")]
    assert alerts == [("check_failed", "a", False), ("check_failed", "b", True)]
    assert consistent
    silent_host = next(batched for name, batched, _single in pairs if name == "silent")
    assert ("agent_silent", "", False) in _host_state(server, silent_host)[2]
