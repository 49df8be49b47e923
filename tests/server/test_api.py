"""The REST API with bearer tokens: hosts, a host's latest results, scan_now commands."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import update

from server.fleet.store import HostFilter, host_row, page_hosts
from server.store.accounts import create_api_token, create_user, revoke_api_token, user_by_name
from server.store.agents import revoke_agent
from server.store.models import Agent, Command
from tests.server.conftest import Server, SignedAgent, unknown_agent_id


def api_token(server: Server, user: str = "admin", role: str = "admin") -> str:
    with server.state.sessions() as session:
        owner = user_by_name(session, user) or create_user(session, user, role, "Unused-pass-1")
        token = create_api_token(session, owner, "tests")
        session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic YWRtaW46eA=="},
        {"Authorization": "Bearer not-a-real-token"},
    ],
)
def test_hosts_need_a_valid_token(server: Server, headers: dict[str, str]) -> None:
    answer = server.client().get("/api/v1/hosts", headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["error"]


def test_revoked_token_is_refused(server: Server) -> None:
    token = api_token(server)
    assert server.client().get("/api/v1/hosts", headers=bearer(token)).status_code == 200
    with server.state.sessions() as session:
        assert revoke_api_token(session, token)
        session.commit()
    assert server.client().get("/api/v1/hosts", headers=bearer(token)).status_code == 401


def test_hosts_list_online_state_and_failing_count(server: Server, agent: SignedAgent) -> None:
    silent = server.enroll("pc-silent")
    agent.send_report(agent.report())  # one failing result (see sample_results)
    with server.state.sessions() as session:
        # Three missed heartbeats (3 x 60 s) and a little more: offline.
        session.execute(
            update(Agent)
            .where(Agent.id == silent.agent_id)
            .values(
                last_seen=datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
                - datetime.timedelta(seconds=181)
            )
        )
        session.commit()
    answer = server.client().get("/api/v1/hosts", headers=bearer(api_token(server)))
    assert answer.status_code == 200
    page = answer.get_json()
    assert page["total"] == 2 and page["limit"] == 100 and page["offset"] == 0
    hosts = {host["hostname"]: host for host in page["hosts"]}
    assert hosts["pc-101"]["online"] is True
    assert hosts["pc-101"]["failing"] == 1
    assert hosts["pc-101"]["group"] == "default"
    assert hosts["pc-101"]["os"] == "Debian GNU/Linux 12"
    assert hosts["pc-silent"]["online"] is False
    assert hosts["pc-silent"]["failing"] == 0
    assert hosts["pc-silent"]["last_seen"].endswith("Z")


def test_the_api_counts_failing_results_where_the_console_counts_failing_checks(
    server: Server, agent: SignedAgent
) -> None:
    def failing(check_id: str, resource: str) -> dict[str, object]:
        return {"check_id": check_id, "status": "fail", "resource": resource,
                "message": "m", "severity": "high"}  # fmt: skip

    # One check failing for two accounts, another for the host: three results, two checks.
    results = [failing("a.users", "user:a"), failing("a.users", "user:b"), failing("b.x", "host")]
    assert agent.send_report(agent.report(results=results)).status_code == 200
    token = api_token(server)
    [listed] = server.client().get("/api/v1/hosts", headers=bearer(token)).get_json()["hosts"]
    one = server.client().get(f"/api/v1/hosts/{agent.agent_id}/results", headers=bearer(token))
    assert listed["failing"] == one.get_json()["host"]["failing"] == 3
    with server.state.sessions() as session:
        console_row = host_row(session, agent.agent_id, server.state.config.offline_after_seconds)
        [console_page] = page_hosts(
            session, HostFilter(), server.state.config.offline_after_seconds, 50, 0
        )
    assert console_row is not None and console_row.failing == console_page.failing == 2
    assert console_row.as_json() == {**listed, "failing": 2}


def test_hosts_paging(server: Server) -> None:
    for index in range(3):
        server.enroll(f"pc-{index}")
    token = api_token(server)
    answer = server.client().get("/api/v1/hosts?limit=2&offset=1", headers=bearer(token))
    page = answer.get_json()
    assert [host["hostname"] for host in page["hosts"]] == ["pc-1", "pc-2"]
    assert page["total"] == 3


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "offset=-1"])
def test_paging_parameters_are_bounded(server: Server, query: str) -> None:
    answer = server.client().get(f"/api/v1/hosts?{query}", headers=bearer(api_token(server)))
    assert answer.status_code == 400
    # The place, then why (server/rest.py: the query string's model).
    name = query.split("=")[0]
    assert answer.get_json()["error"].startswith(f"{name}: expected `int`")


def test_host_results_are_the_latest(server: Server, agent: SignedAgent) -> None:
    agent.send_report(agent.report())
    answer = server.client().get(
        f"/api/v1/hosts/{agent.agent_id}/results", headers=bearer(api_token(server))
    )
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["host"]["id"] == agent.agent_id
    assert [r["status"] for r in body["results"]] == ["fail", "pass", "not_applicable"]
    assert body["results"][0]["evidence"] == {"index": 0}
    assert body["inventory"]["data"]["hostname"] == "pc-101"


def test_unknown_host_is_404(server: Server) -> None:
    token = api_token(server)
    answer = server.client().get(
        f"/api/v1/hosts/{unknown_agent_id()}/results", headers=bearer(token)
    )
    assert answer.status_code == 404


def test_scan_now_command_reaches_the_agent(server: Server, agent: SignedAgent) -> None:
    answer = server.client().post(
        f"/api/v1/hosts/{agent.agent_id}/commands",
        json={"type": "scan_now"},
        headers=bearer(api_token(server)),
    )
    assert answer.status_code == 201
    command = answer.get_json()
    assert command["type"] == "scan_now"
    assert agent.heartbeat().get_json()["commands"] == [command]


@pytest.mark.parametrize("payload", [{"type": "shell"}, {"type": "scan_now", "x": 1}, ["scan_now"]])
def test_unknown_commands_are_refused(server: Server, agent: SignedAgent, payload: object) -> None:
    answer = server.client().post(
        f"/api/v1/hosts/{agent.agent_id}/commands", json=payload, headers=bearer(api_token(server))
    )
    assert answer.status_code == 400
    with server.state.sessions() as session:
        assert session.query(Command).count() == 0


def test_auditor_token_may_read_but_not_command(server: Server, agent: SignedAgent) -> None:
    token = api_token(server, "audrey", "auditor")
    assert server.client().get("/api/v1/hosts", headers=bearer(token)).status_code == 200
    answer = server.client().post(
        f"/api/v1/hosts/{agent.agent_id}/commands", json={"type": "scan_now"}, headers=bearer(token)
    )
    assert answer.status_code == 403
    assert agent.heartbeat().get_json()["commands"] == []


def test_operator_token_may_command(server: Server, agent: SignedAgent) -> None:
    token = api_token(server, "olga", "operator")
    answer = server.client().post(
        f"/api/v1/hosts/{agent.agent_id}/commands", json={"type": "scan_now"}, headers=bearer(token)
    )
    assert answer.status_code == 201


def test_commands_for_a_revoked_host_are_refused(server: Server, agent: SignedAgent) -> None:
    with server.state.sessions() as session:
        revoke_agent(session, agent.agent_id)
        session.commit()
    answer = server.client().post(
        f"/api/v1/hosts/{agent.agent_id}/commands",
        json={"type": "scan_now"},
        headers=bearer(api_token(server)),
    )
    assert answer.status_code == 409
