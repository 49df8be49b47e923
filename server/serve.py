"""``xunjian server run``: HTTPS with cheroot, many threads, keep-alive, clean shutdown."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import multiprocessing
import os
import signal
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any

from cheroot import server as cheroot_server
from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from server.agent_api import DRAIN_MIN_BYTES
from server.app import create_app
from server.config import DataPaths, ServerConfig
from server.peer import resolve_peer
from server.security import warn_if_cheap_hashing
from server.socket_files import SocketReader, SocketWriter, make_file
from server.state import EXTENSION_KEY
from server.store.faults import storage_full

THREADS = 16
access = logging.getLogger("xunjian.server.access")


class ListenError(ValueError):
    """--listen is not HOST:PORT."""


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ListenError(f"--listen wants HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def access_log(app: Callable[..., Any], trusted: tuple[str, ...] = ()) -> Callable[..., Any]:
    """Log one line per request with the client's address and source port (POLICY.md E12):
    behind a trusted proxy, the client it forwards for, and the proxy after "via"."""

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.monotonic()
        status_seen: list[str] = []

        def recording_start(status: str, headers: list[Any], *rest: Any) -> Any:
            status_seen.append(status.split(" ", 1)[0])
            return start_response(status, headers, *rest)

        try:
            return app(environ, recording_start)  # type: ignore[no-any-return]
        finally:
            peer = resolve_peer(environ, trusted)
            access.info(
                "%s%s %s %s %s %.1fms",
                peer.text(),
                f" via {peer.via}" if peer.via else "",
                environ.get("REQUEST_METHOD", "-"),
                environ.get("PATH_INFO", "-"),
                status_seen[0] if status_seen else "-",
                (time.monotonic() - started) * 1000,
            )

    return logged


tls_log = logging.getLogger("xunjian.server.tls")
# Loggers whose routine lines (migrations that ran, clients that dropped a TLS handshake: a
# port scanner, a browser that does not trust the CA yet) say nothing to an operator unless
# asked for with --verbose.
CHATTY_LOGGERS = ("alembic", "xunjian.server.tls")


class StorageFullLines(logging.Filter):
    """A failure because the disk is full is logged as one line with the reason, not a
    traceback: while it lasts, every background sweep (alerts, monitors, jobs) fails the same
    way at each turn, and the tracebacks would bury the one fact an operator needs (requests
    are answered 503 the same way, server/api.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        reason = storage_full(error) if error is not None else None
        if reason is not None:
            record.msg = f"{record.getMessage()}: the storage is full ({reason})"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, StorageFullLines) for f in handler.filters):
            handler.addFilter(StorageFullLines())
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
    warn_if_cheap_hashing()  # at every start (and in every worker) when the tests' switch is on


# A client that went away while its answer was being written (an agent stopped in the middle
# of a request, a closed browser tab): cheroot logs it as "socket.error 8" (SSL's EOF) or
# another errno, with a traceback, at WARNING. Routine, so one line at INFO (--verbose).
PEER_GONE = (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError)


class _Server(wsgi.Server):  # type: ignore[misc]
    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        """cheroot writes every dropped handshake straight to stderr; through a logger its
        routine lines (below WARNING) are shown only with --verbose, and errors keep their
        traceback (cheroot calls this inside its ``except`` block)."""
        error = sys.exc_info()[1]
        if traceback and isinstance(error, PEER_GONE):
            tls_log.info("%s: the client went away while its answer was sent (%r)", msg, error)
            return
        tls_log.log(level, "%s", msg, exc_info=traceback)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


def current_config(app: Any) -> ServerConfig:
    """The configuration create_app loaded for ``app``."""
    return app.extensions[EXTENSION_KEY].config  # type: ignore[no-any-return]


class _Request(cheroot_server.HTTPRequest):
    """cheroot's request, whose own refusals of a body over ``max_request_body_size`` (413,
    answered from the headers, before ``Expect: 100-continue`` would send 100 and invite the
    body) become operation log entries like the app's refusals."""

    def simple_response(self, status: Any, msg: Any = "") -> None:
        if str(status).startswith("413"):
            on_too_large = getattr(self.server, "on_too_large", None)
            if on_too_large is not None:
                on_too_large(self)
            self._drain_refused_body()
            if _text(self.path).startswith("/api/"):
                self._json_too_large()
                return
        super().simple_response(status, msg)

    def _drain_refused_body(self) -> None:
        """Read and drop the refused body (as the app's refusals do, server/agent_api.py
        ``_drain``) from a client that sends it without waiting for ``100 Continue``: closing
        while it still sends made its side see a reset or a TLS EOF, never the 413 (a whole
        run's test_spine, sending 3 MiB). A client that asked to continue sends nothing more;
        a body over DRAIN_MIN_BYTES is not read, the connection is closed on it."""
        if self.inheaders.get(b"Expect", b"").lower() == b"100-continue":
            return
        declared = _text(self.inheaders.get(b"Content-Length", b""))
        if not declared.isdigit() or int(declared) > DRAIN_MIN_BYTES:
            return
        left = int(declared)
        with contextlib.suppress(OSError):
            while left > 0:
                chunk = self.conn.rfile.read(min(256 * 1024, left))
                if not chunk:
                    break
                left -= len(chunk)

    def _json_too_large(self) -> None:
        """Under /api/ every answer is JSON (server/api.py), this refusal too; cheroot's own
        simple_response can only send text/plain."""
        body = json.dumps({"error": "the request body is over the size limit"}).encode()
        self.close_connection = True
        head = (
            f"{self.server.protocol} 413 Request Entity Too Large\r\n"
            f"Content-Length: {len(body)}\r\nContent-Type: application/json\r\n"
            "Connection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            self.conn.wfile.write(head.encode("latin-1") + body)


class _Connection(cheroot_server.HTTPConnection):
    RequestHandlerClass = _Request


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value or "")


def record_too_large(app: Any, limit: int) -> Callable[[Any], None]:
    """What to do with a body cheroot refused: one operation log entry (the TCP peer; a
    trusted proxy's forwarded client is not read for a request the app never saw)."""
    from server.oplog.chain import EntryFields
    from server.oplog.hook import operation_log

    log = operation_log(app)

    def on_too_large(request: Any) -> None:
        try:
            length = _text(request.inheaders.get(b"Content-Length", b""))[:20]
            path = _text(getattr(request, "path", b""))[:200]
            log.append(
                EntryFields.make(
                    "http.refused",
                    outcome="refused",
                    reason=f"413 body of {length or 'unknown'} bytes over the {limit}-byte limit",
                    target=path,
                    client_address=_text(request.conn.remote_addr),
                    client_port=int(request.conn.remote_port or 0) or None,
                    details={"method": _text(request.method)[:16], "path": path, "status": 413},
                )
            )
        except Exception:  # the refusal goes out whatever happens to its record
            logging.getLogger("xunjian.server.oplog").exception("could not record a 413")

    return on_too_large


# TLS 1.2 with forward secrecy and AEAD ciphers only (no CBC: its padding oracles); TLS 1.3's
# suites are all AEAD and are not affected by this list.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"


class _TLSAdapter(BuiltinSSLAdapter):  # type: ignore[misc]
    """cheroot's TLS adapter, whose connections read and write through server/socket_files.py
    (cheroot's own files are pure-Python ``_pyio``)."""

    def makefile(
        self, sock: Any, mode: str = "r", bufsize: int = io.DEFAULT_BUFFER_SIZE
    ) -> SocketReader | SocketWriter:
        return make_file(sock, mode, bufsize)


def tls_adapter(paths: DataPaths) -> BuiltinSSLAdapter:
    adapter = _TLSAdapter(str(paths.server_cert), str(paths.server_key), ciphers=TLS12_CIPHERS)
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    return adapter


def _http_server(data: Path, host: str, port: int, reuse_port: bool) -> tuple[Any, Any]:
    app = create_app(data)
    paths = DataPaths(data)
    config = current_config(app)
    server = _Server(
        (host, port),
        access_log(app, current_config(app).trusted_proxies),
        numthreads=THREADS,
        server_name="xunjian",
        # Many agents may connect at once after a network outage; the default backlog is 5.
        request_queue_size=128,
        reuse_port=reuse_port,
    )
    server.ssl_adapter = tls_adapter(paths)
    # A body over the limit is refused from its Content-Length, before cheroot answers
    # ``Expect: 100-continue`` (it sends 100 as soon as the headers are read, which made a
    # client start a 30 MB upload only to be cut off); the refusal is logged (_Request).
    server.max_request_body_size = config.max_body_bytes
    server.ConnectionClass = _Connection
    server.on_too_large = record_too_large(app, config.max_body_bytes)
    return app, server


def _run_until_stopped(
    app: Any, server: Any, stop: threading.Event, parent_pid: int | None = None
) -> int:
    from server.threads import join_threads, start_threads

    worker = threading.Thread(target=server.serve, name="cheroot", daemon=True)
    worker.start()
    threads_stop = threading.Event()
    # Each feature's background thread, added by its install(app) (server/threads.py).
    running = start_threads(app, threads_stop)
    status = 0
    try:
        while not stop.wait(0.5):
            if not worker.is_alive():
                print("xunjian server: the HTTP server stopped unexpectedly", file=sys.stderr)
                status = 1
                break
            if parent_pid is not None and os.getppid() != parent_pid:
                break  # the parent was killed; a worker must not serve on alone
    finally:
        threads_stop.set()
        server.stop()
        worker.join(timeout=10)
        join_threads(running)
        app.extensions["xunjian"].engine.dispose()
    return status


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM when the parent dies (even by SIGKILL), so no worker keeps the
    port. Elsewhere, the worker notices a new parent id within half a second instead."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _worker(
    data: Path, host: str, port: int, parent_pid: int, ready: Any, verbose: bool = False
) -> None:
    """One of several processes sharing the port (SO_REUSEPORT; the kernel spreads the
    connections). Several processes because one Python process uses one core at a time."""
    configure_logging(verbose)
    _die_with_parent()
    stop = _stop_on_signals()
    app, server = _http_server(data, host, port, reuse_port=True)
    server.prepare()
    ready.set()
    sys.exit(_run_until_stopped(app, server, stop, parent_pid))


def _announce(host: str, port: int, workers: int) -> None:
    url_host = f"[{host}]" if ":" in host else host
    plural = f" ({workers} processes)" if workers > 1 else ""
    print(f"xunjian server listening on https://{url_host}:{port}/{plural}", flush=True)


def serve(data: Path, host: str, port: int, workers: int = 1, verbose: bool = False) -> int:
    configure_logging(verbose)
    if workers <= 1:
        stop = _stop_on_signals()
        app, server = _http_server(data, host, port, reuse_port=False)
        server.prepare()  # binds the port: a taken port fails here, before the URL is printed
        _announce(host, port, 1)
        status = _run_until_stopped(app, server, stop)
        print("xunjian server stopped", flush=True)
        return status
    return _serve_workers(data, host, port, workers, verbose)


def _serve_workers(data: Path, host: str, port: int, workers: int, verbose: bool = False) -> int:
    stop = _stop_on_signals()
    context = multiprocessing.get_context("spawn")
    children = []
    for _ in range(workers):
        ready = context.Event()
        child = context.Process(
            target=_worker, args=(data, host, port, os.getpid(), ready, verbose), daemon=False
        )
        child.start()
        children.append((child, ready))
    status = 0
    try:
        for child, ready in children:
            while not ready.wait(0.2):
                if not child.is_alive() or stop.is_set():
                    print("xunjian server: a worker failed to start", file=sys.stderr)
                    return 1
        _announce(host, port, workers)
        while not stop.wait(0.5):
            if any(not child.is_alive() for child, _ready in children):
                print("xunjian server: a worker process exited; stopping", file=sys.stderr)
                status = 1
                break
    finally:
        for child, _ready in children:
            if child.is_alive() and child.pid is not None:
                os.kill(child.pid, signal.SIGTERM)
        for child, _ready in children:
            child.join(timeout=15)
            if child.is_alive():
                child.kill()
                child.join()
    print("xunjian server stopped", flush=True)
    return status
