"""Unauthenticated floods stay bounded (issue 14, item 6): refusals of the same source, action
and status are one entry per minute plus one entry counting the repeats (the evidence is
kept, POLICY.md E12), and a source failing authentication more than 30 times a minute gets
429 on every agent path, before any work."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from server.agent_api import AUTH_FAILURES_PER_MINUTE
from server.oplog.hook import REPEATS_KEY, flush_repeats
from server.oplog.models import OplogEntry
from server.throttle import FailureLimit, RepeatCounter
from tests.server.conftest import Server, SignedAgent
from xunjian.core.contract import PATH_ENROLL, PATH_HEARTBEAT
from xunjian.core.wire import sign_request

PEER = {"REMOTE_ADDR": "198.51.100.7", "REMOTE_PORT": "40001"}
OTHER = {"REMOTE_ADDR": "198.51.100.8", "REMOTE_PORT": "40002"}


def entries(server: Server, address: str) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(
            session.scalars(
                select(OplogEntry)
                .where(OplogEntry.client_address == address)
                .order_by(OplogEntry.seq)
            )
        )


def forged(server: Server, agent: SignedAgent, peer: dict[str, str], port: int) -> int:
    body = json.dumps({"spool_depth": 0, "last_seq": 0, "epoch": 1, "acked_commands": []})
    headers = sign_request(
        Ed25519PrivateKey.generate(), "POST", PATH_HEARTBEAT, agent.agent_id, body.encode()
    ).as_dict()
    answer = server.client().post(
        PATH_HEARTBEAT,
        data=body,
        headers={**headers, "Content-Type": "application/json"},
        environ_base={**peer, "REMOTE_PORT": str(port)},
    )
    return answer.status_code


def test_300_bad_signatures_are_bounded_entries_and_then_429(
    server: Server, agent: SignedAgent
) -> None:
    statuses = [forged(server, agent, PEER, 40000 + index) for index in range(300)]
    assert statuses[:AUTH_FAILURES_PER_MINUTE] == [401] * AUTH_FAILURES_PER_MINUTE
    assert set(statuses[AUTH_FAILURES_PER_MINUTE:]) == {429}
    # The honest agent from another address is not affected.
    assert agent.heartbeat().status_code == 200
    assert forged(server, agent, OTHER, 50000) == 401
    flush_repeats(server.app)
    logged = entries(server, PEER["REMOTE_ADDR"])
    # One entry for the first 401, one for the first 429, one each counting their repeats.
    assert len(logged) == 4, [(e.reason, e.details) for e in logged]
    counted = {e.reason.split(" ", 1)[0]: json.loads(e.details or "{}") for e in logged}
    repeats = sorted(
        json.loads(e.details)["repeats"] for e in logged if "repeats" in (e.details or "")
    )
    assert repeats == [AUTH_FAILURES_PER_MINUTE - 1, 300 - AUTH_FAILURES_PER_MINUTE - 1]
    assert 1 + 1 + sum(repeats) == 300  # every refusal is accounted for
    assert counted  # (the reasons start with the status: 401 and 429)


def test_the_429_says_when_to_come_back_and_enroll_is_throttled_too(server: Server) -> None:
    client = server.client()
    body = {
        "token": "xjenr_wrong",
        "public_key": "AAAA",
        "hostname": "x",
        "platform": "linux",
        "os": "x",
        "agent_version": "0",
    }
    for _ in range(AUTH_FAILURES_PER_MINUTE):
        answer = client.post(PATH_ENROLL, json=body, environ_base=PEER)
        assert answer.status_code in (400, 401)
    # Bad keys are 400 (not authentication): use a real key so the token is what fails.
    from xunjian.core.wire import public_key_to_text

    body["public_key"] = public_key_to_text(Ed25519PrivateKey.generate().public_key())
    codes = [
        client.post(PATH_ENROLL, json=body, environ_base=PEER).status_code
        for _ in range(AUTH_FAILURES_PER_MINUTE + 1)
    ]
    assert codes[:AUTH_FAILURES_PER_MINUTE] == [401] * AUTH_FAILURES_PER_MINUTE
    assert codes[-1] == 429
    refused = client.get("/api/v1/agent/ca", environ_base=PEER)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert client.get("/api/v1/agent/ca", environ_base=OTHER).status_code == 200


def test_repeat_counter_windows_and_bound() -> None:
    now = [0.0]
    counter = RepeatCounter(window_seconds=60, max_keys=2, clock=lambda: now[0])
    assert counter.see("a", 1) == (True, [])
    assert counter.see("a", 2)[0] is False
    assert counter.see("a", 3)[0] is False
    now[0] = 61
    first, closed = counter.see("a", 4)
    assert first is True
    assert [(c.key, c.window.count, c.window.first_port, c.window.last_port) for c in closed] == [
        ("a", 2, 2, 3)
    ]
    # Past max_keys the stalest key is folded away, its repeats handed back, not lost.
    counter.see("a", 5)
    counter.see("b", 1)
    _, closed = counter.see("c", 1)
    assert [(c.key, c.window.count) for c in closed] == [("a", 1)]


def test_failure_limit_ends_with_its_window() -> None:
    now = [0.0]
    limit = FailureLimit(limit=2, window_seconds=60, clock=lambda: now[0])
    limit.failed("x")
    assert limit.blocked("x") == 0
    limit.failed("x")
    assert limit.blocked("x") == pytest.approx(60)
    now[0] = 60
    assert limit.blocked("x") == 0


def test_the_counter_lives_in_the_app(server: Server, agent: SignedAgent) -> None:
    forged(server, agent, PEER, 1)
    assert isinstance(server.app.extensions.get(REPEATS_KEY), RepeatCounter)
    with server.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OplogEntry)) >= 1
