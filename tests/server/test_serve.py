"""``xunjian server run`` serves HTTPS with the certificate from init, keeps connections alive,
logs requests with the source port, and stops cleanly on SIGTERM. Also the WSGI entry."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
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
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    logged = log_path.read_text()
    assert f"127.0.0.1:{local_port} GET /api/v1/agent/ca 200" in logged


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


def test_an_oversized_body_is_413_before_100_continue_and_logged(server: Server) -> None:
    """``Expect: 100-continue`` with a 30 MB Content-Length: the answer to the headers is 413,
    never 100 (which invited the body, then cut it off), and the refusal is an entry."""
    import threading

    from sqlalchemy import select

    from server.oplog.models import OplogEntry
    from server.serve import _http_server

    port = free_port()
    _app, http = _http_server(server.data, "127.0.0.1", port, False)
    http.prepare()
    thread = threading.Thread(target=http.serve, daemon=True)
    thread.start()
    try:
        context = ssl.create_default_context(cafile=str(server.data / "ca" / "ca.pem"))
        context.check_hostname = False
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
    finally:
        http.stop()
        thread.join(timeout=10)
    with server.state.sessions() as session:
        refused = session.scalars(
            select(OplogEntry).where(OplogEntry.action == "http.refused")
        ).all()
    assert [(e.outcome, e.target, e.client_port) for e in refused] == [
        ("refused", "/api/v1/agent/reports", source_port)
    ]
    assert "31457280" in refused[0].reason
