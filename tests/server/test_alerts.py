"""Alert detection in report intake: state changes open and resolve rows, one per subject."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import insert, select

from server.alerts.models import Alert, open_key
from server.intake.report import ingest_report
from server.store.models import utcnow
from tests.server.conftest import Server, SignedAgent, sample_results
from xunjian.core.contract.bodies import Report
from xunjian.core.schema import convert


def result(check_id: str, status: str, resource: str = "host", severity: str = "high") -> dict:
    return {
        "check_id": check_id,
        "status": status,
        "resource": resource,
        "message": f"{check_id} {status}",
        "evidence": {},
        "rules": ["E8"],
        "severity": severity,
    }


def alerts(server: Server) -> list[Alert]:
    with server.state.sessions() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def unresolved(server: Server) -> list[tuple[str, str, str]]:
    return [
        (alert.kind, alert.check_id, alert.resource)
        for alert in alerts(server)
        if alert.resolved_at is None
    ]


def send(agent: SignedAgent, results: list[dict[str, Any]], **changes: Any) -> None:
    answer = agent.send_report(agent.report(results=results, **changes))
    assert answer.status_code == 200, answer.get_data(as_text=True)


def test_first_seen_fail_opens_one_alert_with_the_check_severity(
    server: Server, agent: SignedAgent
) -> None:
    send(agent, sample_results())  # check_0 fails on user:toor, the others do not
    [alert] = alerts(server)
    assert (alert.kind, alert.check_id, alert.resource) == (
        "check_failed",
        "test.check_0",
        "user:toor",
    )
    assert alert.severity == "high"
    assert alert.agent_id == agent.agent_id
    assert alert.message == "result 0"
    assert alert.open_key == open_key("check_failed", agent.agent_id, "test.check_0", "user:toor")
    assert alert.resolved_at is None


def test_a_failure_that_goes_on_failing_stays_one_alert(server: Server, agent: SignedAgent) -> None:
    for _ in range(3):
        send(agent, [result("a.b", "fail")])
    assert len(alerts(server)) == 1


def test_pass_to_fail_opens_and_fail_to_pass_resolves(server: Server, agent: SignedAgent) -> None:
    send(agent, [result("a.b", "pass", severity="medium")])
    assert alerts(server) == []
    send(agent, [result("a.b", "fail", severity="medium")])
    assert unresolved(server) == [("check_failed", "a.b", "host")]
    assert alerts(server)[0].severity == "medium"
    send(agent, [result("a.b", "pass")])
    [alert] = alerts(server)
    assert alert.resolved_at is not None and alert.resolved_by is None
    assert alert.open_key is None
    send(agent, [result("a.b", "fail")])  # failing again is a new alert
    assert [a.resolved_at is None for a in alerts(server)] == [False, True]


def test_error_or_not_applicable_neither_opens_nor_resolves(
    server: Server, agent: SignedAgent
) -> None:
    send(agent, [result("a.b", "error"), result("c.d", "fail")])
    send(agent, [result("a.b", "not_applicable"), result("c.d", "error")])
    assert unresolved(server) == [("check_failed", "c.d", "host")]


def test_each_resource_is_its_own_subject(server: Server, agent: SignedAgent) -> None:
    send(agent, [result("a.b", "fail", "user:x"), result("a.b", "fail", "user:y")])
    send(agent, [result("a.b", "pass", "user:x"), result("a.b", "fail", "user:y")])
    assert unresolved(server) == [("check_failed", "a.b", "user:y")]


def test_a_full_scan_that_no_longer_reports_a_failure_resolves_it(
    server: Server, agent: SignedAgent
) -> None:
    send(agent, [result("a.b", "fail"), result("c.d", "fail")], created_at="2026-11-23T10:00:00Z")
    # Not a full scan: silence about c.d says nothing.
    send(agent, [result("a.b", "fail")], kind="event", created_at="2026-11-23T10:30:00Z")
    assert len(unresolved(server)) == 2
    send(agent, [result("a.b", "fail")], created_at="2026-11-23T11:00:00Z")
    assert unresolved(server) == [("check_failed", "a.b", "host")]


def test_an_old_spooled_report_opens_and_resolves_nothing(
    server: Server, agent: SignedAgent
) -> None:
    send(agent, [result("a.b", "fail"), result("c.d", "pass")], created_at="2026-11-23T10:00:00Z")
    # Written a week earlier, sent only now: it would resolve a.b and open c.d.
    send(agent, [result("a.b", "pass"), result("c.d", "fail")], created_at="2026-11-16T10:00:00Z")
    assert unresolved(server) == [("check_failed", "a.b", "host")]
    assert len(alerts(server)) == 1


def test_alerts_of_two_agents_are_apart(server: Server, agent: SignedAgent) -> None:
    other = server.enroll("pc-102")
    send(agent, [result("a.b", "fail")])
    send(other, [result("a.b", "fail")])
    send(agent, [result("a.b", "pass")])
    [still_open] = [a for a in alerts(server) if a.resolved_at is None]
    assert still_open.agent_id == other.agent_id


def test_an_open_alert_already_there_is_not_opened_twice(
    server: Server, agent: SignedAgent
) -> None:
    """What a second process finds when it lost the race: the subject is open already, so
    its INSERT meets the unique open_key and does nothing (no error, no second row)."""
    key = open_key("check_failed", agent.agent_id, "a.b", "host")
    with server.state.engine.begin() as connection:
        connection.execute(
            insert(Alert).values(
                kind="check_failed",
                severity="high",
                agent_id=agent.agent_id,
                check_id="a.b",
                resource="host",
                message="",
                open_key=key,
                opened_at=utcnow(),
            )
        )
    send(agent, [result("a.b", "fail")])
    assert len(alerts(server)) == 1


def test_concurrent_reports_open_one_alert_per_subject(server: Server, agent: SignedAgent) -> None:
    documents = [
        # Not full scans, which would retire each other's x.N.
        convert(
            agent.report(kind="event", results=[result("a.b", "fail"), result(f"x.{n}", "fail")]),
            Report,
        )
        for n in range(6)
    ]
    barrier = threading.Barrier(len(documents))
    failures: list[BaseException] = []

    def ingest(document: Report) -> None:
        barrier.wait()
        try:
            ingest_report(server.state.engine, agent.agent_id, document)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=ingest, args=(d,)) for d in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    keys = [a.check_id for a in alerts(server) if a.resolved_at is None]
    assert sorted(keys) == sorted(["a.b"] + [f"x.{n}" for n in range(6)])
