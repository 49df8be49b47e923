"""More alert sources: silent agents (the periodic sweep) and spool overflow gaps."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import update

from server.alerts.models import Alert
from server.alerts.silent import sweep_silent_agents
from server.store.models import Agent, utcnow
from tests.server.conftest import Server, SignedAgent
from tests.server.test_alerts import alerts, result, send

HOUR = datetime.timedelta(hours=1)


def last_seen(server: Server, agent: SignedAgent, moment: datetime.datetime) -> None:
    with server.state.engine.begin() as connection:
        connection.execute(update(Agent).where(Agent.id == agent.agent_id).values(last_seen=moment))


def silent(server: Server) -> list[Alert]:
    return [alert for alert in alerts(server) if alert.kind == "agent_silent"]


def test_an_agent_silent_for_three_heartbeats_opens_one_alert(
    server: Server, agent: SignedAgent
) -> None:
    talking = server.enroll("pc-102")
    offline_after = server.state.config.offline_after_seconds
    last_seen(server, agent, utcnow() - datetime.timedelta(seconds=offline_after + 5))
    outcome = sweep_silent_agents(server.state.engine, offline_after)
    assert (outcome.opened, outcome.resolved) == (1, 0)
    # A second sweep (or another process sweeping at the same moment) opens nothing more.
    assert sweep_silent_agents(server.state.engine, offline_after).opened == 0
    [alert] = silent(server)
    assert alert.agent_id == agent.agent_id != talking.agent_id
    assert alert.severity == "medium"
    assert "pc-101" in alert.message
    assert alert.resolved_at is None


def test_a_heartbeat_resolves_it_at_once(server: Server, agent: SignedAgent) -> None:
    offline_after = server.state.config.offline_after_seconds
    last_seen(server, agent, utcnow() - 2 * HOUR)
    assert sweep_silent_agents(server.state.engine, offline_after).opened == 1
    assert agent.heartbeat().status_code == 200
    [alert] = silent(server)
    assert alert.resolved_at is not None and alert.open_key is None
    assert sweep_silent_agents(server.state.engine, offline_after).resolved == 0


@pytest.mark.parametrize("status", ["pass", "fail"])
def test_a_report_resolves_it_at_once(server: Server, agent: SignedAgent, status: str) -> None:
    """Whether the report repeats the host's results (no result read at all) or changes one
    (intake reads the open states, and detection what it compares with, in one statement)."""
    offline_after = server.state.config.offline_after_seconds
    send(agent, [result("a.b", "pass")])
    last_seen(server, agent, utcnow() - 2 * HOUR)
    sweep_silent_agents(server.state.engine, offline_after)
    send(agent, [result("a.b", status)])
    [alert] = silent(server)
    assert alert.resolved_at is not None
    opened = [alert for alert in alerts(server) if alert.kind == "check_failed"]
    assert len(opened) == (status == "fail")


def test_revoked_agents_are_not_silent(server: Server, agent: SignedAgent) -> None:
    offline_after = server.state.config.offline_after_seconds
    last_seen(server, agent, utcnow() - 2 * HOUR)
    sweep_silent_agents(server.state.engine, offline_after)
    with server.state.engine.begin() as connection:
        connection.execute(
            update(Agent).where(Agent.id == agent.agent_id).values(revoked_at=utcnow())
        )
    assert sweep_silent_agents(server.state.engine, offline_after).resolved == 1
    assert sweep_silent_agents(server.state.engine, offline_after).opened == 0


def test_a_spool_full_gap_opens_a_low_spool_overflow_alert_once(
    server: Server, agent: SignedAgent
) -> None:
    gap = {"from_seq": 3, "to_seq": 9, "reason": "spool full"}
    send(agent, [result("a.b", "pass")], gaps=[gap])
    send(agent, [result("a.b", "pass")], gaps=[{**gap, "from_seq": 10, "to_seq": 12}])
    [alert] = alerts(server)
    assert (alert.kind, alert.severity) == ("spool_overflow", "low")
    assert "3..9" in alert.message


def test_other_gaps_open_nothing(server: Server, agent: SignedAgent) -> None:
    send(agent, [], gaps=[{"from_seq": 3, "to_seq": 9, "reason": "agent reinstalled"}])
    assert alerts(server) == []


def test_the_background_worker_waits_one_offline_period_after_start(
    server: Server, agent: SignedAgent
) -> None:
    """After the server itself was down every last_seen is old; the worker gives the agents
    one offline period to report before it calls any of them silent."""
    import threading

    from server.alerts.jobs import AlertWorker

    last_seen(server, agent, utcnow() - 2 * HOUR)
    worker = AlertWorker(server.state, threading.Event())
    worker.tick()
    assert silent(server) == []
    worker.started_at -= server.state.config.offline_after_seconds
    worker.tick()
    assert len(silent(server)) == 1


def test_the_background_worker_stops_when_told(server: Server) -> None:
    import threading

    from server.alerts.jobs import start_alert_worker

    stop = threading.Event()
    worker = start_alert_worker(server.app, stop)
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
