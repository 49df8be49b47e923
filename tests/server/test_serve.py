"""``xunjian server run`` serves HTTPS with the certificate from init, keeps connections alive,
logs requests with the source port, and stops cleanly on SIGTERM. Also the WSGI entry."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.conftest import Server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_line(process: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if needle in line:
            return line
        if not line and process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}")
    raise AssertionError(f"no {needle!r} within {timeout}s")


@pytest.mark.parametrize("workers", [1, 2])
def test_run_serves_https_and_stops_on_sigterm(
    server: Server, tmp_path: Path, workers: int
) -> None:
    config_path = server.data / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "workers": workers}))
    port = free_port()
    log_path = tmp_path / "stderr.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xunjian.cli",
                "server",
                "run",
                "--data",
                str(server.data),
                "--listen",
                f"127.0.0.1:{port}",
                # One process asked for the details, the other not (issue 13 item 12).
                *(["--verbose"] if workers == 1 else []),
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            line = wait_for_line(process, "listening on")
            assert f"https://127.0.0.1:{port}/" in line
            context = ssl.create_default_context(cafile=str(server.data / "ca" / "ca.pem"))
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context)
            connection.request("GET", "/api/v1/agent/ca")
            first = connection.getresponse()
            assert first.status == 200 and b"BEGIN CERTIFICATE" in first.read()
            local_port = connection.sock.getsockname()[1]
            # Same connection, second request: keep-alive.
            connection.request("GET", "/api/v1/openapi.json")
            second = connection.getresponse()
            assert second.status == 200 and second.read()
            assert connection.sock.getsockname()[1] == local_port
            connection.close()
            # A client that drops its TLS handshake (a port scanner, a health check).
            with socket.create_connection(("127.0.0.1", port)) as dropped:
                dropped.sendall(b"\x16\x03\x01\x00")
            time.sleep(1)
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    logged = log_path.read_text()
    assert f"127.0.0.1:{local_port} GET /api/v1/agent/ca 200" in logged
    # Dropped handshakes are noise unless asked for, and then they come through the log.
    if workers == 1:
        assert "xunjian.server.tls: Client" in logged and "dropped the TLS" in logged
    else:
        assert "dropped the TLS" not in logged, logged


def test_run_refuses_a_bad_listen_address(server: Server) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "xunjian.cli",
            "server",
            "run",
            "--data",
            str(server.data),
            "--listen",
            "nonsense",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "HOST:PORT" in done.stderr


def test_wsgi_module_reads_xunjian_data(server: Server) -> None:
    probe = (
        "from server.wsgi import app; c = app.test_client(); "
        "print(c.get('/api/v1/agent/ca').status_code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "XUNJIAN_DATA": str(server.data)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "200"


@contextlib.contextmanager
def in_process_server(server: Server) -> Iterator[int]:
    """The cheroot server ``xunjian server run`` builds, in a thread; yields its port."""
    from server.serve import _http_server

    port = free_port()
    _app, http = _http_server(server.data, "127.0.0.1", port, False)
    http.prepare()
    thread = threading.Thread(target=http.serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        http.stop()
        thread.join(timeout=10)


def client_context(server: Server, ciphers: str | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(server.data / "ca" / "ca.pem"))
    context.check_hostname = False
    if ciphers is not None:  # TLS 1.2 only, so the list is what is offered
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(ciphers)
    return context


def test_https_answers_carry_hsts_and_tls12_offers_aead_only(server: Server) -> None:
    with in_process_server(server) as port:
        for ciphers in (
            # CBC suites with SHA-2 (Python's default server list offers them), and an AEAD
            # suite without forward secrecy: no handshake.
            "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA256:"
            "ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES256-SHA384",
            "AES128-GCM-SHA256",
        ):
            with (
                pytest.raises(ssl.SSLError),
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            ):
                client_context(server, ciphers).wrap_socket(raw, server_hostname="127.0.0.1")
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            tls = client_context(server, "ECDHE+AESGCM:ECDHE+CHACHA20").wrap_socket(
                raw, server_hostname="127.0.0.1"
            )
            suite = (tls.cipher() or ("",))[0]
            assert tls.version() == "TLSv1.2" and ("GCM" in suite or "CHACHA" in suite), suite
            tls.close()
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, context=client_context(server), timeout=10
        )
        connection.request("GET", "/login")
        answer = connection.getresponse()
        answer.read()
        connection.close()
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000"
    # Over plain HTTP (the test client) the header is not sent: it would mean nothing.
    assert "Strict-Transport-Security" not in server.client().get("/login").headers


def test_an_oversized_body_is_413_before_100_continue_and_logged(server: Server) -> None:
    """``Expect: 100-continue`` with a 30 MB Content-Length: the answer to the headers is 413,
    never 100 (which invited the body, then cut it off), and the refusal is an entry."""
    from sqlalchemy import select

    from server.oplog.models import OplogEntry

    with in_process_server(server) as port:
        context = client_context(server)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            tls.sendall(
                b"POST /api/v1/agent/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 31457280\r\n"
                b"Expect: 100-continue\r\n\r\n"
            )
            first = tls.recv(4096).split(b"\r\n", 1)[0]
            source_port = tls.getsockname()[1]
        assert first.startswith(b"HTTP/1.1 413"), first
    with server.state.sessions() as session:
        refused = session.scalars(
            select(OplogEntry).where(OplogEntry.action == "http.refused")
        ).all()
    assert [(e.outcome, e.target, e.client_port) for e in refused] == [
        ("refused", "/api/v1/agent/reports", source_port)
    ]
    assert "31457280" in refused[0].reason


def test_a_client_gone_mid_answer_is_one_line_and_other_socket_errors_keep_their_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As cheroot calls it from inside its ``except socket.error`` in HTTPConnection.communicate
    # (seen in a whole run: an agent stopped while its heartbeat's answer was being written).
    from server.serve import _Server

    caplog.set_level(logging.INFO, logger="xunjian.server.tls")
    server = _Server(("127.0.0.1", 0), lambda environ, start_response: [])
    for error in (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), OSError(5, "EIO")):
        try:
            raise error
        except OSError:
            server.error_log(f"socket.error {error.errno}", level=logging.WARNING, traceback=True)
    gone, other = [record for record in caplog.records if record.name == "xunjian.server.tls"]
    assert gone.levelno == logging.INFO and gone.exc_info is None
    assert "the client went away while its answer was sent" in gone.getMessage()
    assert other.levelno == logging.WARNING and other.exc_info is not None
