"""Recording requests: console and API changes, agent enrollment and refusals, and reads of
the log itself (``GET /api/v1/oplog``), each with the peer's address and source port."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server.oplog.hook import install_hook, record
from server.oplog.models import OplogEntry
from server.oplog.signing import ANCHORS_NAME, verification_key
from server.oplog.verify import verify_log
from server.store.accounts import create_api_token, create_user, user_by_name
from tests.server.conftest import Server, SignedAgent

PEER = {"REMOTE_ADDR": "10.20.30.40", "REMOTE_PORT": "51515"}


@pytest.fixture
def logged(server: Server) -> Server:
    """The server's app with the operation log installed (before its first request)."""
    install_hook(server.app)
    install_hook(server.app)  # idempotent: create_app (server.oplog.install) installed it
    return server


@pytest.fixture
def enrolled(logged: Server) -> SignedAgent:
    return logged.enroll()


def entries(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(session.scalars(select(OplogEntry).order_by(OplogEntry.seq)))


def token_for(server: Server, role: str) -> str:
    with server.state.sessions() as session:
        user = user_by_name(session, role) if role == "admin" else None
        if user is None:
            user = create_user(session, role, role, "Pass-word-1")
        token = create_api_token(session, user, "test")
        session.commit()
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: FlaskClient, name: str, password: str) -> int:
    page = client.get("/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    answer = client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": match.group(1)},
        environ_overrides=PEER,
    )
    return answer.status_code


def test_console_logins_are_recorded_with_address_and_port(logged: Server) -> None:
    assert log_in(logged.client(), "admin", "wrong-password") == 401
    assert log_in(logged.client(), "admin", logged.admin_password) == 302
    failed, succeeded = entries(logged)
    assert (failed.action, failed.actor) == ("console.login", "anonymous")
    assert failed.outcome == "refused"
    assert failed.target == "user:admin" and failed.reason == "HTTP 401"
    assert (succeeded.actor, succeeded.role, succeeded.outcome) == ("admin", "admin", "ok")
    for entry in (failed, succeeded):
        assert (entry.client_address, entry.client_port) == ("10.20.30.40", 51515)
    assert json.loads(succeeded.details) == {"method": "POST", "path": "/login", "status": 302}


def test_console_pages_that_only_read_are_not_recorded(logged: Server) -> None:
    client = logged.client()
    for path in ("/login", "/hosts", "/"):
        client.get(path)
    assert entries(logged) == []


def test_api_command_is_recorded_with_its_actor_and_target(
    logged: Server, enrolled: SignedAgent
) -> None:
    admin, auditor = token_for(logged, "admin"), token_for(logged, "auditor")
    path = f"/api/v1/hosts/{enrolled.agent_id}/commands"
    client = logged.client()
    assert client.get("/api/v1/hosts", headers=bearer(admin)).status_code == 200
    answer = client.post(
        path, json={"type": "scan_now"}, headers=bearer(admin), environ_overrides=PEER
    )
    assert answer.status_code == 201
    assert client.post(path, json={"type": "scan_now"}, headers=bearer(auditor)).status_code == 403
    assert client.post(path, json={"type": "scan_now"}).status_code == 401
    enroll, created, forbidden, anonymous = entries(logged)
    assert enroll.action == "agent.enroll"
    assert (created.action, created.actor, created.role) == ("api.command.create", "admin", "admin")
    assert (created.target, created.outcome, created.client_port) == (
        f"host:{enrolled.agent_id}",
        "ok",
        51515,
    )
    assert "token_id" in json.loads(created.details)
    assert (forbidden.actor, forbidden.outcome) == ("auditor", "refused")
    assert forbidden.reason.startswith("403 role auditor may not queue commands")
    assert (anonymous.actor, anonymous.outcome, anonymous.reason) == (
        "anonymous",
        "refused",
        "401 missing or malformed bearer token",
    )


def test_enrollment_and_agent_refusals_are_recorded_but_not_routine_traffic(
    logged: Server, enrolled: SignedAgent
) -> None:
    assert enrolled.send_report(enrolled.report()).status_code == 200
    assert enrolled.heartbeat().status_code == 200
    assert enrolled.policy().status_code == 200
    refused = enrolled.send_report(enrolled.report(), headers={"X-Xunjian-Signature": "AAAA"})
    assert refused.status_code == 401
    bad_token = SignedAgent(logged, enrolled.key, "").enroll("xjenr_not-a-token")
    assert bad_token.status_code == 401
    enroll, refusal, failed_enroll = entries(logged)
    assert (enroll.action, enroll.outcome, enroll.target) == (
        "agent.enroll",
        "ok",
        f"agent:{enrolled.agent_id}",
    )
    assert (refusal.action, refusal.outcome, refusal.actor) == (
        "agent.refused",
        "refused",
        "anonymous",
    )
    assert json.loads(refusal.details)["claimed_agent"] == enrolled.agent_id
    assert (failed_enroll.action, failed_enroll.outcome) == ("agent.enroll", "refused")
    assert "enrollment token refused" in failed_enroll.reason


def read(server: Server, token: str | None, query: str = "") -> Any:
    headers = bearer(token) if token else {}
    return server.client().get(f"/api/v1/oplog{query}", headers=headers, environ_overrides=PEER)


def test_reading_the_log_is_itself_logged(logged: Server) -> None:
    auditor = token_for(logged, "auditor")
    record_outside_requests(logged)
    first = read(logged, auditor)
    assert first.status_code == 200
    page = first.get_json()
    assert [entry["action"] for entry in page["entries"]] == ["test.event"]
    assert page["head"]["seq"] == 1 and page["next_after"] == 1
    second = read(logged, auditor, "?after=1&limit=10").get_json()
    (reading,) = second["entries"]
    assert (reading["action"], reading["actor"], reading["role"]) == (
        "oplog.read",
        "auditor",
        "auditor",
    )
    assert (reading["client_address"], reading["client_port"]) == ("10.20.30.40", 51515)
    assert json.loads(reading["details"]) == {"after": 0, "limit": 100, "returned": 1}
    assert reading["prev_hash"] == page["entries"][0]["hash"]
    # One entry per read: the view's own record replaces the hook's.
    assert [entry.action for entry in entries(logged)] == ["test.event", "oplog.read", "oplog.read"]


def record_outside_requests(server: Server) -> None:
    with server.app.app_context():
        appended = record("test.event", actor="cli:root", role="system", target="x")
    assert appended is not None and appended.seq == 1


def test_refused_reads_of_the_log_are_logged(logged: Server) -> None:
    operator = token_for(logged, "operator")
    admin = token_for(logged, "admin")
    assert read(logged, operator).status_code == 403
    assert read(logged, None).status_code == 401
    assert read(logged, admin, "?limit=0").status_code == 400
    assert read(logged, admin, "?after=-1").status_code == 400
    assert read(logged, admin, "?limit=1000").status_code == 200
    outcomes = [(entry.action, entry.actor, entry.outcome) for entry in entries(logged)]
    assert outcomes == [
        ("oplog.read", "operator", "refused"),
        ("oplog.read", "anonymous", "refused"),
        ("oplog.read", "admin", "refused"),
        ("oplog.read", "admin", "refused"),
        ("oplog.read", "admin", "ok"),
    ]
    assert verify_log(
        logged.state.engine, verification_key(logged.data), logged.data / ANCHORS_NAME
    ).ok


def test_record_failure_never_breaks_the_request(logged: Server) -> None:
    with logged.state.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM oplog_head")
    assert log_in(logged.client(), "admin", "wrong-password") == 401
    with logged.app.app_context():
        assert record("test.event") is None
    assert entries(logged) == []


def test_an_oversized_console_form_is_a_413_and_an_entry_not_a_traceback(
    logged: Server, caplog: pytest.LogCaptureFixture
) -> None:
    """A 3 MiB login form: Flask answers 413 (MAX_CONTENT_LENGTH); reading the form again in
    the hook raised, so the refusal was a traceback instead of an entry."""
    client = logged.client()
    before = len(entries(logged))
    form = {"name": "admin", "password": "x" * (3 * 1024 * 1024), "csrf_token": "t"}
    answer = client.post("/login", data=form, environ_base=PEER)
    assert answer.status_code == 413
    assert not [r for r in caplog.records if "could not record" in r.getMessage()]
    new = entries(logged)[before:]
    assert [(e.action, e.outcome, e.client_address) for e in new] == [
        ("console.login", "refused", "10.20.30.40")
    ]
    assert "413" in new[0].reason and new[0].target == "user:"
