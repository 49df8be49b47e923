"""The agent API against docs/architecture.md: enrollment, signed reports stored once, policy,
heartbeat with commands, and every refusal (401, 413, 400) changing nothing."""

from __future__ import annotations

import datetime
import io
import json
import logging
import multiprocessing
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from server.config import DataPaths
from server.store.agents import revoke_agent
from server.store.models import (
    Agent,
    Command,
    EnrollmentToken,
    Gap,
    Inventory,
    LatestResult,
    Report,
    ResultState,
)
from tests.server.conftest import Server, SignedAgent, sample_results, unknown_agent_id
from xunjian.core.contract import PATH_HEARTBEAT, PATH_POLICY, PATH_REPORTS
from xunjian.core.wire import HEADER_SIGNATURE, HEADER_TIME, certificate_sha256

TABLES = (Agent, Report, ResultState, LatestResult, Inventory, Gap, Command, EnrollmentToken)


def snapshot(server: Server) -> dict[str, Any]:
    """Everything a refused request must leave untouched."""
    with server.state.sessions() as session:
        counts = {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES
        }
        seen = dict(session.execute(select(Agent.id, Agent.last_seen)).all())
        uses = dict(session.execute(select(EnrollmentToken.id, EnrollmentToken.uses_left)).all())
    return {"counts": counts, "last_seen": seen, "uses": uses}


def refusal_logged(caplog: pytest.LogCaptureFixture, status: int, words: str) -> bool:
    return any(
        record.name == "xunjian.server.refused"
        and f"refused {status}" in record.getMessage()
        and words in record.getMessage()
        for record in caplog.records
    )


# -- CA and enrollment ------------------------------------------------------------------------


def test_ca_is_served_as_pem_and_matches_the_file(server: Server) -> None:
    answer = server.client().get("/api/v1/agent/ca")
    assert answer.status_code == 200
    assert answer.mimetype == "application/x-pem-file"
    pem = DataPaths(server.data).ca_cert.read_bytes()
    assert answer.data == pem
    assert certificate_sha256(answer.data) == certificate_sha256(pem)


def test_enroll_with_a_good_token_assigns_a_server_uuid(server: Server) -> None:
    token = server.enrollment_token(uses=2)
    first = SignedAgent(server, Ed25519PrivateKey.generate(), "").enroll(token, "pc-1")
    second = SignedAgent(server, Ed25519PrivateKey.generate(), "").enroll(token, "pc-1")
    assert first.status_code == second.status_code == 201
    assert first.get_json()["group"] == "default"
    # One hostname, two agents: the hostname is a label, not an identity.
    assert first.get_json()["agent_id"] != second.get_json()["agent_id"]
    with server.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Agent)) == 2


def test_enroll_joins_the_token_group(server: Server) -> None:
    token = server.enrollment_token(group="lab")
    answer = SignedAgent(server, Ed25519PrivateKey.generate(), "").enroll(token)
    assert answer.status_code == 201
    assert answer.get_json()["group"] == "lab"


@pytest.mark.parametrize("case", ["unknown", "expired", "used_up"])
def test_enroll_refuses_bad_tokens(
    server: Server, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    if case == "unknown":
        token = "not-a-token-that-exists-anywhere-at-all"
    elif case == "expired":
        token = server.enrollment_token(lifetime=datetime.timedelta(seconds=-1))
    else:
        token = server.enrollment_token(uses=1)
        assert (
            SignedAgent(server, Ed25519PrivateKey.generate(), "").enroll(token).status_code == 201
        )
    before = snapshot(server)
    with caplog.at_level(logging.INFO):
        answer = SignedAgent(server, Ed25519PrivateKey.generate(), "").enroll(token)
    assert answer.status_code == 401
    assert "error" in answer.get_json()
    assert snapshot(server) == before
    expected = {"unknown": "unknown enrollment token", "expired": "expired", "used_up": "used up"}
    assert refusal_logged(caplog, 401, expected[case])


def test_enroll_refuses_a_bad_public_key_without_spending_the_token(server: Server) -> None:
    token = server.enrollment_token()
    before = snapshot(server)
    answer = server.client().post(
        "/api/v1/agent/enroll",
        json={"token": token, "public_key": "AAAA", "hostname": "pc", "platform": "linux"},
    )
    assert answer.status_code == 400
    assert "public_key" in answer.get_json()["error"]
    assert snapshot(server) == before


# -- reports ----------------------------------------------------------------------------------


def test_signed_report_is_stored_with_results_latest_and_inventory(
    server: Server, agent: SignedAgent
) -> None:
    document = agent.report(gaps=[{"from_seq": 3, "to_seq": 5, "reason": "spool full"}])
    answer = agent.send_report(document)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"stored": True}
    with server.state.sessions() as session:
        report = session.scalars(select(Report)).one()
        assert (report.agent_id, report.epoch, report.seq, report.kind) == (
            agent.agent_id,
            agent.epoch,
            document["seq"],
            "scan",
        )
        results = session.scalars(select(ResultState).order_by(ResultState.check_id)).all()
        assert [(r.check_id, r.status, r.resource) for r in results] == [
            ("test.check_0", "fail", "user:toor"),
            ("test.check_1", "pass", "host"),
            ("test.check_2", "not_applicable", "host"),
        ]
        assert results[0].evidence == {"index": 0} and results[0].rules == ["E8"]
        assert session.scalar(select(func.count()).select_from(LatestResult)) == 3
        assert session.get(Inventory, agent.agent_id).data["hostname"] == "pc-101"
        gap = session.scalars(select(Gap)).one()
        assert (gap.from_seq, gap.to_seq, gap.reason) == (3, 5, "spool full")


def test_duplicate_report_is_stored_once(server: Server, agent: SignedAgent) -> None:
    document = agent.report()
    assert agent.send_report(document).get_json() == {"stored": True}
    before = snapshot(server)["counts"]
    again = agent.send_report(document)
    assert again.status_code == 200
    assert again.get_json() == {"stored": False, "duplicate": True}
    assert snapshot(server)["counts"] == before


def test_same_seq_in_a_new_epoch_is_a_new_report(server: Server, agent: SignedAgent) -> None:
    assert agent.send_report(agent.report(seq=1)).get_json() == {"stored": True}
    agent.epoch += 1
    assert agent.send_report(agent.report(seq=1)).get_json() == {"stored": True}


def test_old_spooled_report_lands_but_does_not_overwrite_newer_latest(
    server: Server, agent: SignedAgent
) -> None:
    newer = agent.report(created_at="2026-11-23T10:00:00Z")
    older = agent.report(created_at="2026-11-16T10:00:00Z")
    older["results"][0]["status"] = "pass"
    assert agent.send_report(newer).get_json() == {"stored": True}
    # A week old: freshness is about the send time, not the content's age.
    assert agent.send_report(older).get_json() == {"stored": True}
    with server.state.sessions() as session:
        latest = session.get(LatestResult, (agent.agent_id, "test.check_0", "user:toor"))
        assert latest.status == "fail"
        assert session.scalar(select(func.count()).select_from(Report)) == 2


def test_full_scan_retires_results_it_no_longer_mentions(
    server: Server, agent: SignedAgent
) -> None:
    agent.send_report(agent.report(created_at="2026-11-23T10:00:00Z"))
    fewer = agent.report(created_at="2026-11-23T11:00:00Z", results=sample_results(1)[:1])
    fewer["results"][0]["resource"] = "host"
    assert agent.send_report(fewer).get_json() == {"stored": True}
    with server.state.sessions() as session:
        rows = session.execute(select(LatestResult.check_id, LatestResult.resource)).all()
    assert rows == [("test.check_0", "host")]


def test_repeated_check_and_resource_in_one_report_keeps_the_last(
    server: Server, agent: SignedAgent
) -> None:
    results = sample_results(1) * 2
    results = [dict(results[0]), dict(results[0], status="pass", message="second")]
    assert agent.send_report(agent.report(results=results)).status_code == 200
    with server.state.sessions() as session:
        latest = session.scalars(select(LatestResult)).one()
    assert (latest.status, latest.message) == ("pass", "second")


def test_report_updates_last_seen(server: Server, agent: SignedAgent) -> None:
    with server.state.sessions() as session:
        session.execute(update(Agent).values(last_seen=datetime.datetime(2020, 1, 1)))
        session.commit()
    agent.send_report(agent.report())
    assert snapshot(server)["last_seen"][agent.agent_id] > datetime.datetime(2025, 1, 1)


# -- refusals of signed requests --------------------------------------------------------------


def _refused_report(
    server: Server,
    caplog: pytest.LogCaptureFixture,
    send: Any,
    status: int,
    log_words: str,
) -> dict[str, Any]:
    before = snapshot(server)
    with caplog.at_level(logging.INFO):
        answer = send()
    assert answer.status_code == status, answer.get_data(as_text=True)
    body = answer.get_json()
    assert isinstance(body, dict) and body.get("error")
    assert snapshot(server) == before
    assert refusal_logged(caplog, status, log_words), [r.getMessage() for r in caplog.records]
    return body


def test_tampered_body_is_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(agent.report()).encode()
    headers = agent.signed_headers("POST", PATH_REPORTS, body)
    tampered = body.replace(b'"fail"', b'"pass"')
    _refused_report(
        server,
        caplog,
        lambda: server.client().post(PATH_REPORTS, data=tampered, headers=headers),
        401,
        "signature does not verify",
    )


def test_signature_for_another_path_is_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(agent.report()).encode()
    headers = agent.signed_headers("POST", PATH_HEARTBEAT, body)
    _refused_report(
        server,
        caplog,
        lambda: server.client().post(PATH_REPORTS, data=body, headers=headers),
        401,
        "signature does not verify",
    )


def test_signature_by_another_key_is_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    impostor = SignedAgent(server, Ed25519PrivateKey.generate(), agent.agent_id)
    _refused_report(
        server,
        caplog,
        lambda: impostor.send_report(agent.report()),
        401,
        "signature does not verify",
    )


@pytest.mark.parametrize("missing", [HEADER_SIGNATURE, HEADER_TIME, "X-Xunjian-Agent"])
def test_missing_signature_headers_are_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture, missing: str
) -> None:
    body = json.dumps(agent.report()).encode()
    headers = agent.signed_headers("POST", PATH_REPORTS, body)
    del headers[missing]
    _refused_report(
        server,
        caplog,
        lambda: server.client().post(PATH_REPORTS, data=body, headers=headers),
        401,
        missing,
    )


@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_stale_send_time_is_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture, offset: int
) -> None:
    _refused_report(
        server,
        caplog,
        lambda: agent.send_report(agent.report(), sent_at=int(time.time()) + offset),
        401,
        "window",
    )


def test_unknown_agent_is_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    stranger = unknown_agent_id()
    _refused_report(
        server,
        caplog,
        lambda: agent.send_report(agent.report(agent_id=stranger), agent_id=stranger),
        401,
        "unknown agent",
    )


def test_revoked_agent_is_refused_everywhere(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    with server.state.sessions() as session:
        assert revoke_agent(session, agent.agent_id)
        session.commit()
    for send in (lambda: agent.send_report(agent.report()), agent.policy, agent.heartbeat):
        _refused_report(server, caplog, send, 401, "revoked")


def _revoke_in_another_process(database_url: str, agent_id: str) -> None:
    from sqlalchemy.orm import Session

    from server.store.engine import make_engine

    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            assert revoke_agent(session, agent_id)
            session.commit()
    finally:
        engine.dispose()


@pytest.mark.parametrize("where", ["this process", "another process"])
def test_an_agent_revoked_after_its_key_was_remembered_is_refused_at_once(
    server: Server,
    agent: SignedAgent,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    # The fast path remembers an agent's key once a report of it is stored (no read per
    # request); the revocation must still stop the very next report, whoever revoked it.
    assert agent.send_report(agent.report(seq=1)).status_code == 200
    fast_path = server.app.wsgi_app
    assert agent.agent_id in fast_path._keys  # type: ignore[attr-defined]
    if where == "this process":
        with server.state.sessions() as session:
            assert revoke_agent(session, agent.agent_id)
            session.commit()
    else:
        child = multiprocessing.get_context("fork").Process(
            target=_revoke_in_another_process, args=(database_url, agent.agent_id)
        )
        child.start()
        child.join(60)
        assert child.exitcode == 0
    _refused_report(server, caplog, lambda: agent.send_report(agent.report(seq=2)), 401, "revoked")
    # A retry of the report stored before the revocation is refused too, and forgets the key.
    _refused_report(server, caplog, lambda: agent.send_report(agent.report(seq=1)), 401, "revoked")
    assert agent.agent_id not in fast_path._keys  # type: ignore[attr-defined]
    with server.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1


def test_oversized_body_is_refused_by_content_length(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    document = agent.report()
    document["inventory"] = {"padding": "x" * (2 * 1024 * 1024)}
    _refused_report(server, caplog, lambda: agent.send_report(document), 413, "byte limit")


def test_oversized_body_is_refused_while_reading(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    """A body larger than its Content-Length claims: the limit holds while reading too."""
    small_limit = server.app.extensions["xunjian"].config.max_body_bytes
    body = b"x" * (small_limit + 10)

    def send() -> Any:
        # No Content-Length, input terminated by the server (as with chunked encoding).
        headers = agent.signed_headers("POST", PATH_REPORTS, body)
        return server.client().post(
            PATH_REPORTS,
            input_stream=io.BytesIO(body),
            headers=headers,
            environ_overrides={"wsgi.input_terminated": True},
        )

    _refused_report(server, caplog, send, 413, "byte limit")


def test_malformed_json_is_refused_with_reason(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    body = _refused_report(
        server,
        caplog,
        lambda: agent.signed("POST", PATH_REPORTS, b"{not json"),
        400,
        "not valid JSON",
    )
    assert body["error"].startswith("body: not valid JSON")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d.pop("seq"), "seq: is required"),
        (lambda d: d.update(seq=-1), "seq: expected `int` >= 0"),
        (lambda d: d.update(seq=True), "seq: expected `int`, got `bool`"),
        (lambda d: d.update(extra=1), "body: object contains unknown field `extra`"),
        (lambda d: d["results"][1].update(status="ok"), "results[1].status: invalid enum value"),
        (
            lambda d: d["results"][0].update(resource="r" * 201),
            "results[0].resource: expected `str` of length <= 200",
        ),
        (
            lambda d: d["results"][0].update(message="m" * 1001),
            "results[0].message: expected `str` of length <= 1000",
        ),
        (
            lambda d: d["results"][0].update(evidence={"x": "y" * 17000}),
            "results[0].evidence: at most 16384 bytes",
        ),
        (
            lambda d: d.update(results=sample_results(1) * 2001),
            "results: expected `array` of length <= 2000",
        ),
        (lambda d: d.update(created_at="yesterday"), "created_at: invalid RFC3339"),
        (
            lambda d: d.update(created_at="2026-11-23T10:00:00"),
            "created_at: expected `datetime` with a timezone",
        ),
        (lambda d: d.update(kind=""), "kind: expected `str` of length >= 1"),
        (lambda d: d.update(results={}), "results: expected `array`, got `object`"),
    ],
)
def test_schema_violations_are_refused_with_the_place(
    server: Server,
    agent: SignedAgent,
    caplog: pytest.LogCaptureFixture,
    change: Any,
    reason: str,
) -> None:
    document = agent.report()
    change(document)
    body = _refused_report(server, caplog, lambda: agent.send_report(document), 400, reason)
    assert reason in body["error"]


def test_body_agent_id_must_match_the_signed_header(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    other = server.enroll("pc-102")
    document = agent.report(agent_id=other.agent_id)
    body = _refused_report(
        server, caplog, lambda: agent.send_report(document), 400, "does not match"
    )
    assert "agent_id" in body["error"]


# -- policy, heartbeat and commands -----------------------------------------------------------


def test_policy_has_the_documented_shape(server: Server, agent: SignedAgent) -> None:
    answer = agent.policy()
    assert answer.status_code == 200
    policy = answer.get_json()
    assert policy["version"] == 1
    assert policy["group"] == "default"
    assert isinstance(policy["checks"], dict)
    assert policy["schedules"] == {
        "scan_interval_seconds": 3600,
        "heartbeat_interval_seconds": 60,
    }
    assert policy["approved"] == {"users": [], "software": []}


def test_policy_signed_for_another_query_is_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    headers = agent.signed_headers("GET", PATH_POLICY + "?group=other", b"")
    _refused_report(
        server,
        caplog,
        lambda: server.client().get(PATH_POLICY, headers=headers),
        401,
        "signature does not verify",
    )


def test_scan_now_round_trip(server: Server, agent: SignedAgent) -> None:
    answer = agent.heartbeat().get_json()
    assert answer.pop("command_key")  # the server's key for isolation commands (docs/incidents.md)
    assert answer == {"policy_version": 1, "commands": []}
    with server.state.sessions() as session:
        from server.store.agents import queue_command

        command = queue_command(session, agent.agent_id, "scan_now", None)
        session.commit()
    first = agent.heartbeat().get_json()
    assert first["commands"] == [{"id": command.id, "type": "scan_now"}]
    # Not acknowledged yet: delivered again.
    assert agent.heartbeat().get_json()["commands"] == first["commands"]
    acked = agent.heartbeat(acked=[command.id])
    assert acked.status_code == 200
    assert acked.get_json()["commands"] == []
    assert agent.heartbeat().get_json()["commands"] == []
    with server.state.sessions() as session:
        stored = session.get(Command, command.id)
        assert stored.delivered_at is not None and stored.acked_at is not None


def test_an_agent_cannot_ack_another_agents_command(server: Server, agent: SignedAgent) -> None:
    other = server.enroll("pc-102")
    with server.state.sessions() as session:
        from server.store.agents import queue_command

        command = queue_command(session, other.agent_id, "scan_now", None)
        session.commit()
    agent.heartbeat(acked=[command.id])
    assert other.heartbeat().get_json()["commands"] == [{"id": command.id, "type": "scan_now"}]


def test_heartbeat_schema_violation_is_refused(
    server: Server, agent: SignedAgent, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"acked_commands": ["not-a-uuid"]}).encode()
    _refused_report(
        server,
        caplog,
        lambda: agent.signed("POST", PATH_HEARTBEAT, body),
        400,
        "acked_commands[0]",
    )


def test_a_report_taken_without_flask_is_answered_as_the_view_answers(
    server: Server, agent: SignedAgent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Valid reports skip Flask's request machinery (agent_api.ReportFastPath): same status,
    body and headers as the view's, and a retry is still a duplicate. The view is broken here
    to prove the fast path answered; a refused report still reaches it."""
    from server import agent_api

    def view_must_not_run(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the Flask view ran")

    monkeypatch.setattr(agent_api, "authenticate", view_must_not_run)
    document = agent.report()
    answer = agent.send_report(document)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"stored": True}
    assert answer.headers["Content-Type"] == "application/json"
    for name in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert name in answer.headers
    again = agent.send_report(document)
    assert again.get_json() == {"stored": False, "duplicate": True}
    document["agent_id"] = unknown_agent_id()
    with pytest.raises(AssertionError, match="the Flask view ran"):
        agent.send_report(document)
