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
