"""Trusted reverse proxies (config ``trusted_proxies``, server/peer.py): the client's address
and source port come from the proxy's X-Forwarded-For and X-Real-Port, and only when the TCP
peer is a proxy the configuration trusts. From anyone else the headers are ignored.

The last test puts Debian's nginx, configured from deploy/nginx/xunjian.conf, in front of a
real ``xunjian server run`` on loopback and reads the operation log it wrote."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from server.app import create_app
from server.config import ConfigError, load_config
from server.oplog.models import OplogEntry
from server.peer import Peer, parse_trusted_proxies, resolve_peer
from server.serve import access_log
from tests.harness import ServerUnderTest, free_port, run_cli, stop_process, wait_for
from tests.nginx import SAMPLES, main_config, nginx_binary, sample_with, start_nginx
from tests.server.conftest import Server
from tests.server.test_api import api_token, bearer

NGINX_SAMPLE = SAMPLES / "xunjian.conf"
PROXY = "10.0.0.5"
PROXY_PEER = {"REMOTE_ADDR": PROXY, "REMOTE_PORT": "40001"}
SPOOF = {"X-Forwarded-For": "203.0.113.66", "X-Real-Port": "1"}


def environ(peer: str, port: str = "40001", **headers: str) -> dict[str, Any]:
    found: dict[str, Any] = {"REMOTE_ADDR": peer, "REMOTE_PORT": port}
    for name, value in headers.items():
        found["HTTP_" + name.upper()] = value
    return found


# -- resolving the peer -------------------------------------------------------------------


def test_without_trusted_proxies_the_tcp_peer_is_the_client_whatever_it_sends() -> None:
    seen = resolve_peer(
        environ("198.51.100.7", x_forwarded_for="203.0.113.66", x_real_port="1"), ()
    )
    assert seen == Peer("198.51.100.7", 40001)
    assert seen.text() == "198.51.100.7:40001"


def test_an_untrusted_peer_cannot_spoof_its_address() -> None:
    trusted = parse_trusted_proxies(["10.0.0.0/24"])
    seen = resolve_peer(
        environ("198.51.100.7", x_forwarded_for="10.0.0.9, 203.0.113.66", x_real_port="1"),
        trusted,
    )
    assert seen == Peer("198.51.100.7", 40001)


def test_a_trusted_proxy_names_the_client_and_its_source_port() -> None:
    trusted = parse_trusted_proxies([PROXY])
    seen = resolve_peer(environ(PROXY, x_forwarded_for="192.0.2.10", x_real_port="55123"), trusted)
    assert seen == Peer("192.0.2.10", 55123, via=f"{PROXY}:40001")
    assert seen.text() == "192.0.2.10:55123"


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        (PROXY, f"192.0.2.10:55123 via {PROXY}:40001 GET /health 204"),
        ("198.51.100.7", "198.51.100.7:40001 GET /health 204"),  # not a proxy: headers ignored
    ],
)
def test_the_access_log_names_the_same_client_as_the_operation_log(
    peer: str, expected: str, caplog: pytest.LogCaptureFixture
) -> None:
    def app(_environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("204 No Content", [])
        return []

    logged = access_log(app, parse_trusted_proxies([PROXY]))
    request = environ(peer, x_forwarded_for="192.0.2.10", x_real_port="55123")
    request.update(REQUEST_METHOD="GET", PATH_INFO="/health")
    with caplog.at_level("INFO", logger="xunjian.server.access"):
        logged(request, lambda *_args: None)
    assert [record.getMessage().rsplit(" ", 1)[0] for record in caplog.records] == [expected]


def test_the_client_is_the_rightmost_address_that_is_not_a_trusted_proxy() -> None:
    trusted = parse_trusted_proxies(["10.0.0.0/24"])
    # The client wrote "203.0.113.66" itself; the trusted hop appended what it saw.
    seen = resolve_peer(
        environ(PROXY, x_forwarded_for="203.0.113.66, 192.0.2.10", x_real_port="55123"), trusted
    )
    assert (seen.address, seen.port) == ("192.0.2.10", 55123)
    # Two trusted hops: the client is further left, and the port the nearest proxy saw is the
    # outer proxy's, not the client's: unknown.
    chained = resolve_peer(
        environ(PROXY, x_forwarded_for="192.0.2.10, 10.0.0.7", x_real_port="55123"), trusted
    )
    assert (chained.address, chained.port) == ("192.0.2.10", None)


def test_a_client_on_the_proxy_machine_itself() -> None:
    trusted = parse_trusted_proxies(["127.0.0.1"])
    seen = resolve_peer(
        environ("127.0.0.1", x_forwarded_for="127.0.0.1", x_real_port="60000"), trusted
    )
    assert (seen.address, seen.port, seen.via) == ("127.0.0.1", 60000, "127.0.0.1:40001")


@pytest.mark.parametrize(
    "headers",
    [
        {"x_forwarded_for": "not-an-address"},
        {"x_forwarded_for": "192.0.2.10, , junk"},
        {"x_forwarded_for": "192.0.2.1," * 40},
        {"x_forwarded_for": "1" * 5000},
        {},
    ],
)
def test_unusable_forwarded_headers_leave_the_proxy_as_the_client(
    headers: dict[str, str],
) -> None:
    seen = resolve_peer(environ(PROXY, **headers), parse_trusted_proxies([PROXY]))
    assert seen == Peer(PROXY, 40001)


@pytest.mark.parametrize("port", ["", "-1", "65536", "12a", "1" * 10])
def test_a_bad_port_header_is_an_unknown_port(port: str) -> None:
    seen = resolve_peer(
        environ(PROXY, x_forwarded_for="192.0.2.10", x_real_port=port),
        parse_trusted_proxies([PROXY]),
    )
    assert (seen.address, seen.port) == ("192.0.2.10", None)


def test_ipv6_and_ipv4_mapped_peers() -> None:
    trusted = parse_trusted_proxies(["::1", "127.0.0.1"])
    seen = resolve_peer(environ("::1", x_forwarded_for="2001:db8::7", x_real_port="443"), trusted)
    assert (seen.address, seen.port) == ("2001:db8::7", 443)
    mapped = resolve_peer(
        environ("::ffff:127.0.0.1", x_forwarded_for="[2001:db8::8]", x_real_port="80"), trusted
    )
    assert (mapped.address, mapped.port) == ("2001:db8::8", 80)


# -- the setting ----------------------------------------------------------------------------


def write_setting(data: Path, value: Any) -> None:
    path = data / "config.json"
    config = json.loads(path.read_text())
    config["trusted_proxies"] = value
    path.write_text(json.dumps(config))


def test_the_setting_is_validated_and_normalised_at_load(server: Server) -> None:
    assert load_config(server.data).trusted_proxies == ()
    write_setting(server.data, ["10.0.0.5", "192.168.0.0/16", "::1", "10.0.0.5"])
    assert load_config(server.data).trusted_proxies == ("10.0.0.5/32", "192.168.0.0/16", "::1/128")


@pytest.mark.parametrize(
    "value",
    ["10.0.0.5", ["proxy.example"], ["10.0.0.1/8"], [5], ["10.0.0.0/33"], ["1.2.3.4"] * 65],
)
def test_bad_settings_stop_the_load(server: Server, value: Any) -> None:
    write_setting(server.data, value)
    with pytest.raises(ConfigError, match="trusted_proxies"):
        load_config(server.data)


# -- the Flask app: operation log and refusal log --------------------------------------------


@pytest.fixture
def proxied(server: Server) -> Iterator[Flask]:
    app = create_app(server.data, {"trusted_proxies": [PROXY]})
    app.config["TESTING"] = True
    yield app
    app.extensions["xunjian"].engine.dispose()


def newest_entry(app: Flask) -> OplogEntry:
    with app.extensions["xunjian"].sessions() as session:
        entry = session.scalars(select(OplogEntry).order_by(OplogEntry.seq.desc())).first()
    assert entry is not None
    return entry


def ack_missing_alert(app: Flask, token: str, peer: dict[str, str], headers: dict[str, str]):
    return app.test_client().post(
        "/api/v1/alerts/999999/ack",
        headers={**bearer(token), **headers},
        environ_overrides=peer,
    )


def test_the_operation_log_records_the_forwarded_client(
    server: Server, proxied: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    token = api_token(server)
    headers = {"X-Forwarded-For": "192.0.2.10", "X-Real-Port": "55123"}
    with caplog.at_level("WARNING", logger="xunjian.server.refused"):
        assert ack_missing_alert(proxied, token, PROXY_PEER, headers).status_code == 404
    entry = newest_entry(proxied)
    assert (entry.actor, entry.action, entry.outcome) == ("admin", "api.alert_ack", "refused")
    assert (entry.client_address, entry.client_port) == ("192.0.2.10", 55123)
    assert json.loads(entry.details)["via_proxy"] == f"{PROXY}:40001"
    # The refusal log line names the same client.
    assert "from 192.0.2.10:55123" in caplog.text


def test_spoofed_headers_from_an_untrusted_peer_are_ignored(
    server: Server, proxied: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    token = api_token(server)
    stranger = {"REMOTE_ADDR": "198.51.100.7", "REMOTE_PORT": "51000"}
    with caplog.at_level("WARNING", logger="xunjian.server.refused"):
        assert ack_missing_alert(proxied, token, stranger, SPOOF).status_code == 404
    entry = newest_entry(proxied)
    assert (entry.client_address, entry.client_port) == ("198.51.100.7", 51000)
    assert "via_proxy" not in json.loads(entry.details)
    assert "from 198.51.100.7:51000" in caplog.text and "203.0.113.66" not in caplog.text


def test_without_the_setting_a_proxy_is_just_a_peer(server: Server) -> None:
    token = api_token(server)
    headers = {"X-Forwarded-For": "192.0.2.10", "X-Real-Port": "55123"}
    assert ack_missing_alert(server.app, token, PROXY_PEER, headers).status_code == 404
    entry = newest_entry(server.app)
    assert (entry.client_address, entry.client_port) == (PROXY, 40001)


def log_in(app: Flask, password: str, peer: dict[str, str], client: str) -> int:
    browser = app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = browser.post(
        "/login",
        data={"name": "admin", "password": password, "csrf_token": token.group(1)},
        headers={"X-Forwarded-For": client, "X-Real-Port": "50000"},
        environ_overrides=peer,
    )
    return answer.status_code


def test_the_login_lockout_counts_each_client_behind_the_proxy(
    server: Server, proxied: Flask
) -> None:
    failures = load_config(server.data).login_max_failures
    for _attempt in range(failures):
        assert log_in(proxied, "wrong-password", PROXY_PEER, "192.0.2.10") == 401
    # That client is locked out, even with the right password ...
    assert log_in(proxied, server.admin_password, PROXY_PEER, "192.0.2.10") == 401
    # ... and the next person behind the same proxy is not.
    assert log_in(proxied, server.admin_password, PROXY_PEER, "192.0.2.11") == 302


def test_forged_headers_do_not_escape_a_lockout(server: Server, proxied: Flask) -> None:
    stranger = {"REMOTE_ADDR": "198.51.100.7", "REMOTE_PORT": "51000"}
    failures = load_config(server.data).login_max_failures
    for attempt in range(failures):
        assert log_in(proxied, "wrong-password", stranger, f"192.0.2.{attempt}") == 401
    assert log_in(proxied, server.admin_password, stranger, "192.0.2.99") == 401


# -- a real nginx in front of a real server --------------------------------------------------


def nginx_config(work: Path, server: ServerUnderTest, port: int) -> str:
    """deploy/nginx/xunjian.conf with this machine's paths and ports; the proxy connects to
    the server from 127.0.0.2, so a client on 127.0.0.1 is not the trusted proxy."""
    block = sample_with(
        NGINX_SAMPLE,
        "server {",
        {
            "listen 443 ssl;": f"listen 127.0.0.1:{port} ssl;",
            "/etc/ssl/xunjian/console.pem": str(server.data / "tls" / "server.pem"),
            "/etc/ssl/xunjian/console.key": str(server.data / "tls" / "server.key"),
            "https://127.0.0.1:8443": server.url,
            "/var/lib/xunjian/server/ca/ca.pem": str(server.data / "ca" / "ca.pem"),
            "location / {": "location / {\n        proxy_bind 127.0.0.2;",
        },
    )
    return main_config(work, block)


@pytest.fixture
def nginx_front(
    database_url: str, tmp_path: Path, data_folder_templates: object
) -> Iterator[tuple[ServerUnderTest, int, Path]]:
    nginx_binary()
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    server.set_config(trusted_proxies=["127.0.0.2"], workers=1)
    server.start()
    work = tmp_path / "nginx"
    work.mkdir()
    port = free_port()
    process = start_nginx(work, nginx_config(work, server, port))
    try:
        wait_for("nginx to listen", lambda: _answers(server, port, process, work))
        yield server, port, work
    finally:
        stop_process(process)
        server.stop()


def _answers(
    server: ServerUnderTest, port: int, process: subprocess.Popen[bytes], work: Path
) -> bool:
    if process.poll() is not None:
        raise AssertionError(
            f"nginx exited {process.returncode}: {(work / 'error.log').read_text()}"
        )
    try:
        status, _body, _port = https_request(server, port, "GET", "/api/v1/agent/ca")
    except OSError:
        return False
    if status != 200:
        raise AssertionError(f"nginx answered {status}: {(work / 'error.log').read_text()[-2000:]}")
    return True


def https_request(
    server: ServerUnderTest,
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, int]:
    """(status, body, the client's own source port) of one request from 127.0.0.1."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=server.ssl_context(), timeout=30
    )
    try:
        connection.connect()
        source_port = int(connection.sock.getsockname()[1])
        connection.request(method, path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read(), source_port
    finally:
        connection.close()


def test_behind_nginx_the_log_has_the_clients_address_and_port(
    nginx_front: tuple[ServerUnderTest, int, Path],
) -> None:
    server, port, _work = nginx_front
    token = server.api_token()
    auth = {"Authorization": f"Bearer {token}"}
    # Through nginx, with a forged X-Forwarded-For that the shipped config overwrites.
    status, _body, through_port = https_request(
        server, port, "POST", "/api/v1/alerts/999999/ack", {**auth, **SPOOF}
    )
    assert status == 404
    # Straight to the server from 127.0.0.1, which is not a trusted proxy: headers ignored.
    status, _body, direct_port = https_request(
        server, server.port, "POST", "/api/v1/alerts/999998/ack", {**auth, **SPOOF}
    )
    assert status == 404
    answer = server.api(token, "GET", "/api/v1/oplog?limit=1000")
    assert answer.status == 200
    acks = {
        entry["target"]: entry
        for entry in answer.json()["entries"]
        if entry["action"] == "api.alert_ack"
    }
    proxied, direct = acks["alert:999999"], acks["alert:999998"]
    assert (proxied["client_address"], proxied["client_port"]) == ("127.0.0.1", through_port)
    assert re.fullmatch(r"127\.0\.0\.2:\d+", json.loads(proxied["details"])["via_proxy"])
    assert (direct["client_address"], direct["client_port"]) == ("127.0.0.1", direct_port)
    assert "via_proxy" not in json.loads(direct["details"])
    assert "203.0.113.66" not in server.log()
    assert (
        "operation log intact"
        in run_cli("server", "oplog", "verify", "--data", str(server.data)).stdout
    )
