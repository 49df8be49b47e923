"""The transport against a real HTTPS server on 127.0.0.1 with a throwaway CA: signatures are
checked by the server side with ``xunjian.core.wire``, exactly as the product's server does."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.transport import (
    InvalidServerUrl,
    ProtocolError,
    Refused,
    ServerUrl,
    Transport,
    Unreachable,
    Untrusted,
    parse_server_url,
    pinned_context,
)
from tests.agent.agent_testkit import LoopbackServer, Received, Reply, ThrowawayCA, make_ca
from xunjian.core.wire import (
    HEADER_AGENT,
    HEADER_SIGNATURE,
    HEADER_TIME,
    SignatureError,
    check_freshness,
    parse_sent_at,
    verify_request,
)

AGENT_ID = "5a0f8e0e-6c1b-4c1e-9f55-1d2b3c4d5e6f"


@pytest.fixture
def server(ca: ThrowawayCA, tmp_path: Path) -> Iterator[LoopbackServer]:
    # No scripted API: each test here routes the requests itself.
    running = LoopbackServer(ca, tmp_path).start()
    yield running
    running.stop()


def _transport(server: LoopbackServer, ca_pem: bytes, key: Ed25519PrivateKey) -> Transport:
    from agent.transport import Identity

    return Transport(
        parse_server_url(server.url), pinned_context(ca_pem), Identity(AGENT_ID, key), timeout=10
    )


def _verify(request: Received, key: Ed25519PrivateKey) -> None:
    assert request.headers[HEADER_AGENT] == AGENT_ID
    sent_at = parse_sent_at(request.headers[HEADER_TIME])
    check_freshness(sent_at)
    verify_request(
        key.public_key(),
        request.method,
        request.path,
        AGENT_ID,
        sent_at,
        request.headers[HEADER_SIGNATURE],
        request.body,
    )


def test_every_request_is_signed_over_method_path_query_and_body(
    server: LoopbackServer, ca: ThrowawayCA
) -> None:
    key = Ed25519PrivateKey.generate()
    server.route = lambda request: Reply.json(200, {"ok": True, "path": request.path})
    with _transport(server, ca.cert_pem, key) as transport:
        assert transport.post_json("/api/v1/agent/reports", {"seq": 1, "名": "巡检"})["ok"]
        assert transport.get_json("/api/v1/agent/policy?since=3")["path"] == (
            "/api/v1/agent/policy?since=3"
        )
    assert [r.method for r in server.received] == ["POST", "GET"]
    for request in server.received:
        _verify(request, key)
    # The signature binds the body and the path: a changed byte or a moved request fails.
    post = server.received[0]
    with pytest.raises(SignatureError):
        verify_request(
            key.public_key(),
            "POST",
            post.path,
            AGENT_ID,
            int(post.headers[HEADER_TIME]),
            post.headers[HEADER_SIGNATURE],
            post.body + b" ",
        )
    with pytest.raises(SignatureError):
        verify_request(
            key.public_key(),
            "POST",
            "/api/v1/agent/heartbeat",
            AGENT_ID,
            int(post.headers[HEADER_TIME]),
            post.headers[HEADER_SIGNATURE],
            post.body,
        )


def test_a_base_path_is_sent_and_signed(server: LoopbackServer, ca: ThrowawayCA) -> None:
    from agent.transport import Identity

    key = Ed25519PrivateKey.generate()
    server.route = lambda request: Reply.json(200, {})
    url = parse_server_url(server.url + "/xunjian/")
    with Transport(url, pinned_context(ca.cert_pem), Identity(AGENT_ID, key)) as transport:
        transport.get_json("/api/v1/agent/policy")
    (request,) = server.received
    assert request.path == "/xunjian/api/v1/agent/policy"
    _verify(request, key)


def test_a_server_from_another_ca_is_not_trusted(server: LoopbackServer) -> None:
    stranger = make_ca("someone else's CA")
    with (
        _transport(server, stranger.cert_pem, Ed25519PrivateKey.generate()) as transport,
        pytest.raises(Untrusted, match="pinned"),
    ):
        transport.get_json("/api/v1/agent/policy")
    assert server.received == []


def test_the_host_name_is_checked(tmp_path: Path) -> None:
    # Issued by the right CA, but for another name than the one the agent dials.
    wrong_name = make_ca(server_names=("server.example",))
    running = LoopbackServer(wrong_name, tmp_path).start()
    try:
        with (
            _transport(running, wrong_name.cert_pem, Ed25519PrivateKey.generate()) as transport,
            pytest.raises(Untrusted),
        ):
            transport.get_json("/api/v1/agent/policy")
    finally:
        running.stop()


def test_refusals_carry_the_status_and_the_servers_reason(
    server: LoopbackServer, ca: ThrowawayCA
) -> None:
    server.route = lambda request: Reply.json(401, {"error": "unknown agent"})
    with (
        _transport(server, ca.cert_pem, Ed25519PrivateKey.generate()) as transport,
        pytest.raises(Refused) as caught,
    ):
        transport.get_json("/api/v1/agent/policy")
    assert caught.value.status == 401
    assert caught.value.error == "unknown agent"
    assert caught.value.retryable


def test_bad_requests_are_not_retryable() -> None:
    assert not Refused(400, "bad schema", "/x").retryable
    assert not Refused(413, "too big", "/x").retryable
    assert Refused(503, "", "/x").retryable


def test_oversized_and_non_json_answers_are_protocol_errors(
    server: LoopbackServer, ca: ThrowawayCA
) -> None:
    key = Ed25519PrivateKey.generate()
    server.route = lambda request: Reply(200, b"x" * 5000)
    from agent.transport import Identity

    transport = Transport(
        parse_server_url(server.url),
        pinned_context(ca.cert_pem),
        Identity(AGENT_ID, key),
        max_response_bytes=1000,
    )
    with transport, pytest.raises(ProtocolError, match="1000"):
        transport.get_json("/api/v1/agent/policy")
    server.route = lambda request: Reply(200, b"<html>proxy login</html>", "text/html")
    with _transport(server, ca.cert_pem, key) as transport, pytest.raises(ProtocolError):
        transport.get_json("/api/v1/agent/policy")


def test_a_closed_port_is_unreachable(ca: ThrowawayCA) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens now on that port.
    from agent.transport import Identity

    transport = Transport(
        ServerUrl("127.0.0.1", port, ""),
        pinned_context(ca.cert_pem),
        Identity(AGENT_ID, Ed25519PrivateKey.generate()),
        timeout=5,
    )
    with transport, pytest.raises(Unreachable):
        transport.get_json("/api/v1/agent/policy")


def test_the_connection_is_reused_and_survives_the_server_closing_it(
    server: LoopbackServer, ca: ThrowawayCA
) -> None:
    key = Ed25519PrivateKey.generate()
    server.route = lambda request: Reply.json(200, {"n": len(server.received)})
    with _transport(server, ca.cert_pem, key) as transport:
        transport.get_json("/a")
        first = transport._connection
        transport.get_json("/b")
        assert transport._connection is first  # kept alive
        assert first is not None and first.sock is not None
        # The server side drops the idle connection; the next call must still go through.
        first.sock.shutdown(socket.SHUT_RDWR)
        assert transport.get_json("/c") == {"n": 3}
    for request in server.received:
        _verify(request, key)


def test_a_keep_alive_connection_the_server_dropped_is_replaced_at_once(
    server: LoopbackServer, ca: ThrowawayCA
) -> None:
    """The server closed the idle connection (while the agent scanned, say) with no TLS
    close_notify: the next request must go through on a fresh connection, not fail and wait
    for the spool's backoff."""
    key = Ed25519PrivateKey.generate()
    server.drop_idle_connections = True
    server.route = lambda request: Reply.json(200, {"n": len(server.received)})
    with _transport(server, ca.cert_pem, key) as transport:
        assert transport.get_json("/a") == {"n": 1}
        assert transport.post_json("/b", {"x": 1}) == {"n": 2}
        assert transport.get_json("/c") == {"n": 3}
    assert [request.path for request in server.received] == ["/a", "/b", "/c"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("http://10.0.0.5:8443", "plain http"),
        ("ftp://10.0.0.5", "https"),
        ("https://", "host"),
        ("https://user:pw@10.0.0.5", "user name"),
        ("https://10.0.0.5/?x=1", "query"),
        ("https://10.0.0.5:99999", "valid"),
        ("https://10.0.0.5 /", "spaces"),
        ("", "empty"),
    ],
)
def test_server_urls_are_validated(text: str, message: str) -> None:
    with pytest.raises(InvalidServerUrl, match=message):
        parse_server_url(text)


def test_good_server_urls() -> None:
    assert parse_server_url("https://10.0.0.5:8443") == ServerUrl("10.0.0.5", 8443, "")
    assert parse_server_url("HTTPS://xj.school.cn/") == ServerUrl("xj.school.cn", 443, "")
    assert parse_server_url("https://[::1]:8443/base/").text == "https://[::1]:8443/base"
