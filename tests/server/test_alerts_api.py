"""``/api/v1/alerts``: listing for every role; ack, resolve and comment for admin and operator."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.oplog.models import OplogEntry
from tests.server.conftest import Server, SignedAgent
from tests.server.test_alerts import result, send
from tests.server.test_api import api_token, bearer


@pytest.fixture
def failing(server: Server, agent: SignedAgent) -> int:
    """One open check_failed alert; its id."""
    send(agent, [result("accounts.uid0_extra", "fail", "user:toor", severity="critical")])
    [alert] = listing(server, api_token(server))["alerts"]
    return int(alert["id"])


def listing(server: Server, token: str, query: str = "") -> dict[str, Any]:
    answer = server.client().get(f"/api/v1/alerts{query}", headers=bearer(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def post(server: Server, token: str, path: str, body: Any = None, raw: bytes | None = None):
    if raw is not None:
        return server.client().post(
            path, data=raw, headers={**bearer(token), "Content-Type": "application/json"}
        )
    return server.client().post(path, json=body, headers=bearer(token))


def test_listing_needs_a_token(server: Server) -> None:
    assert server.client().get("/api/v1/alerts").status_code == 401


def test_an_auditor_sees_the_open_alert_with_its_host(
    server: Server, agent: SignedAgent, failing: int
) -> None:
    page = listing(server, api_token(server, "audrey", "auditor"), "?status=open")
    [alert] = page["alerts"]
    assert page["total"] == 1
    assert alert["id"] == failing
    assert alert["kind"] == "check_failed"
    assert alert["severity"] == "critical"
    assert alert["status"] == "open"
    assert alert["host"] == {"id": agent.agent_id, "hostname": "pc-101"}
    assert alert["subject"] == "pc-101 / accounts.uid0_extra / user:toor"
    assert alert["opened_at"].endswith("Z")
    assert alert["acknowledged_by"] is None and alert["resolved_at"] is None
    assert listing(server, api_token(server), "?status=resolved")["alerts"] == []


@pytest.mark.parametrize("query", ["?status=closed", "?limit=0", "?limit=501", "?offset=-1"])
def test_bad_listing_parameters_are_refused(server: Server, query: str) -> None:
    answer = server.client().get(f"/api/v1/alerts{query}", headers=bearer(api_token(server)))
    assert answer.status_code == 400


def test_paging(server: Server, agent: SignedAgent) -> None:
    send(agent, [result(f"c.{n}", "fail") for n in range(5)])
    token = api_token(server)
    first = listing(server, token, "?limit=2")
    second = listing(server, token, "?limit=2&offset=2")
    assert first["total"] == 5
    ids = [a["id"] for a in first["alerts"] + second["alerts"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4


def test_operator_acknowledges_then_admin_resolves(server: Server, failing: int) -> None:
    operator = api_token(server, "olga", "operator")
    answer = post(server, operator, f"/api/v1/alerts/{failing}/ack", {"comment": "on it"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    acked = answer.get_json()
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged_by"] == "olga"
    assert [c["text"] for c in acked["comments"]] == ["on it"]
    # A second acknowledgement keeps the first.
    again = post(server, api_token(server), f"/api/v1/alerts/{failing}/ack")
    assert again.status_code == 200 and again.get_json()["acknowledged_by"] == "olga"
    assert listing(server, operator, "?status=acknowledged")["total"] == 1
    assert listing(server, operator, "?status=open")["total"] == 0

    resolved = post(server, api_token(server), f"/api/v1/alerts/{failing}/resolve", {})
    assert resolved.status_code == 200
    assert resolved.get_json()["status"] == "resolved"
    assert resolved.get_json()["resolved_by"] == "admin"
    assert post(server, operator, f"/api/v1/alerts/{failing}/resolve").status_code == 409
    assert post(server, operator, f"/api/v1/alerts/{failing}/ack").status_code == 409


def test_a_resolved_subject_that_still_fails_can_open_again_only_after_passing(
    server: Server, agent: SignedAgent, failing: int
) -> None:
    post(server, api_token(server), f"/api/v1/alerts/{failing}/resolve")
    send(agent, [result("accounts.uid0_extra", "fail", "user:toor")])
    assert listing(server, api_token(server), "?status=open")["total"] == 0
    send(agent, [result("accounts.uid0_extra", "pass", "user:toor")])
    send(agent, [result("accounts.uid0_extra", "fail", "user:toor")])
    assert listing(server, api_token(server), "?status=open")["total"] == 1


def test_comment(server: Server, failing: int) -> None:
    token = api_token(server, "olga", "operator")
    answer = post(server, token, f"/api/v1/alerts/{failing}/comment", {"text": "  called IT  "})
    assert answer.status_code == 201
    assert answer.get_json()["text"] == "called IT"
    [alert] = listing(server, token)["alerts"]
    assert [(c["author"], c["text"]) for c in alert["comments"]] == [("olga", "called IT")]


@pytest.mark.parametrize("action", ["ack", "resolve", "comment"])
def test_auditor_may_not_change_alerts(server: Server, failing: int, action: str) -> None:
    token = api_token(server, "audrey", "auditor")
    answer = post(server, token, f"/api/v1/alerts/{failing}/{action}", {"text": "x"})
    assert answer.status_code == 403
    assert listing(server, token)["alerts"][0]["status"] == "open"


@pytest.mark.parametrize("action", ["ack", "resolve", "comment"])
def test_unknown_alert_is_404(server: Server, action: str) -> None:
    body = {"text": "x"} if action == "comment" else {}
    answer = post(server, api_token(server), f"/api/v1/alerts/999999/{action}", body)
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("action", "body", "raw"),
    [
        ("ack", None, b"not json"),
        ("ack", None, b"[1]"),
        ("ack", {"comment": ""}, None),
        ("ack", {"note": "x"}, None),
        ("resolve", {"comment": 5}, None),
        ("resolve", {"comment": "x" * 2001}, None),
        ("comment", {}, None),
        ("comment", None, b""),
        ("comment", {"text": "   "}, None),
        ("comment", {"text": "x", "more": 1}, None),
    ],
)
def test_bad_bodies_are_refused(
    server: Server, failing: int, action: str, body: Any, raw: bytes | None
) -> None:
    answer = post(server, api_token(server), f"/api/v1/alerts/{failing}/{action}", body, raw)
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert listing(server, api_token(server))["alerts"][0]["status"] == "open"


def test_changes_are_in_the_operation_log(server: Server, failing: int) -> None:
    post(server, api_token(server, "olga", "operator"), f"/api/v1/alerts/{failing}/ack")
    post(server, api_token(server, "audrey", "auditor"), f"/api/v1/alerts/{failing}/resolve")
    with server.state.sessions() as session:
        entries = session.execute(
            select(OplogEntry.actor, OplogEntry.action, OplogEntry.outcome).where(
                OplogEntry.action.like("%alert%")
            )
        ).all()
    assert ("olga", "api.alert_ack", "ok") in entries
    assert ("audrey", "api.alert_resolve", "refused") in entries
