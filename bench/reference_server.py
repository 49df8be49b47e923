"""The minimal reference server the intake benchmark measures xunjian against (issue 15).

It does what intake cannot avoid and nothing more: the same HTTPS server (cheroot, the same
TLS adapter and certificate as ``xunjian server run``, the same number of threads and worker
processes sharing the port), the same Ed25519 verification of the same signed headers and
freshness, a parse of the JSON body, and, with ``--store sqlite``, one transaction per report
that inserts its 40 results into one SQLite table (WAL, synchronous=FULL, like the server).
No Flask, no schema, no alerts, no history. On a machine shared with other work the ratio of
xunjian's figure to this one's, measured in the same run, is what holds.

    python -m bench.reference_server --data SERVER_DATA --keys KEYS.json --port 8444 \\
        [--store none|sqlite] [--workers 2]

``KEYS.json`` maps agent ids to public keys as the wire spells them (bench/intake.py writes it).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec
from cheroot import wsgi

from server.config import DataPaths
from server.serve import THREADS, tls_adapter
from xunjian.core import wire

_STORED = b'{"stored":true}\n'
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS results (id INTEGER PRIMARY KEY, agent_id TEXT, seq INTEGER, "
    "check_id TEXT, status TEXT, resource TEXT, message TEXT, evidence TEXT, severity TEXT, "
    "rules TEXT)"
)


def make_app(keys: dict[str, Any], database: Path | None) -> Callable[..., Iterable[bytes]]:
    local = threading.local()

    def connection() -> sqlite3.Connection:
        found = getattr(local, "connection", None)
        if found is None:
            assert database is not None
            found = local.connection = sqlite3.connect(database, timeout=10)
            found.execute("PRAGMA journal_mode=WAL")
            found.execute("PRAGMA synchronous=FULL")
        return found

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length)
        agent_id = environ.get("HTTP_X_XUNJIAN_AGENT", "")
        try:
            sent_at = wire.parse_sent_at(environ.get("HTTP_X_XUNJIAN_TIME"))
            wire.verify_request(
                keys[agent_id],
                environ["REQUEST_METHOD"],
                environ["PATH_INFO"],
                agent_id,
                sent_at,
                environ.get("HTTP_X_XUNJIAN_SIGNATURE"),
                body,
            )
            wire.check_freshness(sent_at)
            report = msgspec.json.decode(body)
        except (KeyError, wire.SignatureError, msgspec.DecodeError) as exc:
            start_response("401 Unauthorized", [("Content-Type", "text/plain")])
            return [str(exc).encode()]
        if database is not None:
            db = connection()
            with db:
                db.executemany(
                    "INSERT INTO results (agent_id, seq, check_id, status, resource, message, "
                    "evidence, severity, rules) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            agent_id,
                            report["seq"],
                            r["check_id"],
                            r["status"],
                            r["resource"],
                            r["message"],
                            msgspec.json.encode(r["evidence"]).decode(),
                            r["severity"],
                            msgspec.json.encode(r["rules"]).decode(),
                        )
                        for r in report["results"]
                    ],
                )
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(_STORED)))]
        )
        return [_STORED]

    return app


def _worker(options: argparse.Namespace, ready: Any) -> None:
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    keys = {
        agent_id: wire.public_key_from_text(text)
        for agent_id, text in json.loads(Path(options.keys).read_text()).items()
    }
    database = Path(options.database) if options.store == "sqlite" else None
    server = wsgi.Server(
        ("127.0.0.1", options.port),
        make_app(keys, database),
        numthreads=THREADS,
        request_queue_size=128,
        reuse_port=True,
    )
    server.ssl_adapter = tls_adapter(DataPaths(Path(options.data)))
    server.prepare()
    ready.set()
    server.serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a xunjian server's data folder (TLS)")
    parser.add_argument("--keys", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", choices=["none", "sqlite"], default="none")
    parser.add_argument("--database", default="")
    parser.add_argument("--workers", type=int, default=2)
    options = parser.parse_args()
    if options.store == "sqlite":
        with sqlite3.connect(options.database) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
    context = multiprocessing.get_context("fork")
    children = []
    for _ in range(options.workers):
        ready = context.Event()
        child = context.Process(target=_worker, args=(options, ready))
        child.start()
        ready.wait(30)
        children.append(child)
    print(f"reference server listening on 127.0.0.1:{options.port}", flush=True)

    def stop(*_: Any) -> None:
        for child in children:
            child.terminate()
        for child in children:
            child.join(10)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for child in children:
        child.join()


if __name__ == "__main__":
    main()
