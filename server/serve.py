"""``xunjian server run``: HTTPS with cheroot, many threads, keep-alive, clean shutdown."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from server.app import create_app
from server.config import DataPaths

THREADS = 16
access = logging.getLogger("xunjian.server.access")


class ListenError(ValueError):
    """--listen is not HOST:PORT."""


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ListenError(f"--listen wants HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def access_log(app: Callable[..., Any]) -> Callable[..., Any]:
    """Log one line per request with the client's address and source port (POLICY.md E12)."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        status_seen: list[str] = []

        def recording_start(status: str, headers: list[Any], *rest: Any) -> Any:
            status_seen.append(status.split(" ", 1)[0])
            return start_response(status, headers, *rest)

        try:
            return app(environ, recording_start)  # type: ignore[no-any-return]
        finally:
            access.info(
                "%s:%s %s %s %s %.1fms",
                environ.get("REMOTE_ADDR", "-"),
                environ.get("REMOTE_PORT", "-"),
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "-"),
                status_seen[0] if status_seen else "-",
                (time.monotonic() - started) * 1000,
            )

    return logged


def configure_logging() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(data: Path, host: str, port: int) -> int:
    configure_logging()
    app = create_app(data)
    paths = DataPaths(data)
    server = wsgi.Server((host, port), access_log(app), numthreads=THREADS, server_name="xunjian")
    server.ssl_adapter = BuiltinSSLAdapter(str(paths.server_cert), str(paths.server_key))
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.prepare()  # binds the port, so a taken port fails here, before the URL is printed
    worker = threading.Thread(target=server.serve, name="cheroot", daemon=True)
    worker.start()
    url_host = f"[{host}]" if ":" in host else host
    print(f"xunjian server listening on https://{url_host}:{port}/", flush=True)
    try:
        while not stop.wait(0.5):
            if not worker.is_alive():
                print("xunjian server: the HTTP server stopped unexpectedly", file=sys.stderr)
                return 1
    finally:
        server.stop()
        worker.join(timeout=10)
        app.extensions["xunjian"].engine.dispose()
    print("xunjian server stopped", flush=True)
    return 0
