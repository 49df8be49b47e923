"""The console's Operation log page on a big log: p50 / p95 / max per filter, from a logged-in
session against a real ``xunjian server run`` on loopback.

    .venv/bin/python -m bench.oplog_pages --db sqlite --entries 300000
    .venv/bin/python -m bench.oplog_pages --db postgresql  # $XUNJIAN_TEST_DATABASE_URL or PG

The log is filled by bulk inserts of correctly chained entries (the hashes are computed; the
head is set; one checkpoint is signed at the end, so the page's chain check does its real
work): 180 days of console, API, CLI and agent events from 40 people and 2,000 agents. Each
page request is itself an ``oplog.view`` entry, as in production. The pages page by sequence
number (keyset); a filter that matches few entries reads further back through the log, which
is the slow case this prints.
"""

from __future__ import annotations

import argparse
import datetime
import io
import os
import random
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, update

from bench.console_pages import Browser, measure_pages, print_figures
from bench.intake import _database_url, _drop_schema
from server.oplog.chain import GENESIS_HASH, EntryFields, entry_hash
from server.oplog.models import OplogEntry, OplogHead
from server.oplog.store import HEAD_ID, OperationLog
from tests.harness import ServerUnderTest

BATCH = 5000
ACTIONS = [
    ("console.login", 30),
    ("console.alert.ack", 8),
    ("console.alert.comment", 4),
    ("api.alert_ack", 3),
    ("oplog.view", 2),
    ("api.command.create", 3),
    ("agent.enroll", 2),
    ("agent.refused", 40),
    ("cli.user.create", 1),
    ("console.password.change", 1),
]


def fill(engine: Engine, entries: int, seed: int = 11) -> dict[str, Any]:
    """Write ``entries`` chained entries, oldest 180 days ago; returns facts for the pages."""
    rng = random.Random(seed)
    people = [f"person{n:02d}" for n in range(40)]
    names, weights = zip(*ACTIONS, strict=True)
    end = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    start = end - datetime.timedelta(days=180)
    step = (end - start) / entries
    previous = GENESIS_HASH
    rows: list[dict[str, Any]] = []
    rare_actor = "person39"
    with engine.begin() as connection:
        for seq in range(1, entries + 1):
            action = rng.choices(names, weights)[0]
            if action.startswith("agent."):
                actor, role = f"agent:{rng.randrange(2000):04d}", "agent"
            elif action.startswith("cli."):
                actor, role = "cli:root", "cli"
            else:
                # person39 is rare (about 1 entry in 4000): the slow filter.
                actor = rare_actor if rng.random() < 0.00025 else rng.choice(people[:-1])
                role = rng.choice(("admin", "operator", "auditor"))
            outcome = "refused" if action == "agent.refused" or rng.random() < 0.03 else "ok"
            fields = EntryFields.make(
                action,
                actor=actor,
                role=role,
                target=f"alert:{rng.randrange(50_000)}" if "alert" in action else "",
                outcome=outcome,
                reason="HTTP 401" if outcome == "refused" else "",
                client_address=f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(256)}",
                client_port=rng.randrange(1024, 65536),
                details={"method": "POST", "status": 302},
            )
            at = start + step * seq
            digest = entry_hash(seq, at, fields, previous)
            rows.append(
                {
                    "seq": seq,
                    "at": at,
                    "actor": fields.actor,
                    "role": fields.role,
                    "action": fields.action,
                    "target": fields.target,
                    "outcome": fields.outcome,
                    "reason": fields.reason,
                    "client_address": fields.client_address,
                    "client_port": fields.client_port,
                    "details": fields.details,
                    "prev_hash": previous,
                    "hash": digest,
                }
            )
            previous = digest
            if len(rows) >= BATCH:
                connection.execute(insert(OplogEntry), rows)
                rows = []
        if rows:
            connection.execute(insert(OplogEntry), rows)
        connection.execute(
            update(OplogHead).where(OplogHead.id == HEAD_ID).values(seq=entries, hash=previous)
        )
    middle = start + (end - start) / 2
    return {
        "rare_actor": rare_actor,
        "middle_seq": entries // 2,
        "day_since": (middle + datetime.timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
        "day_until": (middle + datetime.timedelta(hours=32)).strftime("%Y-%m-%dT%H:%M"),
    }


def pages(facts: dict[str, Any]) -> list[tuple[str, str]]:
    day = urllib.parse.urlencode({"since": facts["day_since"], "until": facts["day_until"]})
    return [
        ("newest page", "/oplog"),
        ("deep page (before=middle)", f"/oplog?before={facts['middle_seq']}"),
        ("one day in the middle", f"/oplog?{day}"),
        ("action prefix", "/oplog?action=console.alert."),
        ("outcome refused", "/oplog?outcome=refused"),
        ("address", "/oplog?address=10.1.2.3"),
        ("rare actor (1 in 4000)", f"/oplog?actor={facts['rare_actor']}"),
        ("CSV export of one day", f"/oplog/export.csv?{day}"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=20, help="requests per page")
    options = parser.parse_args()

    url, schema = _database_url(options.db)
    scratch = tempfile.mkdtemp(prefix="xunjian-bench-oplog-")
    try:
        server = ServerUnderTest(Path(scratch) / "server", database_url=url)
        server.init()
        server.set_config(workers=1)
        engine = create_engine(url or f"sqlite:///{server.data / 'xunjian.sqlite3'}")
        started = time.perf_counter()
        facts = fill(engine, options.entries)
        OperationLog(engine, server.data).checkpoint()
        engine.dispose()
        fill_seconds = time.perf_counter() - started
        server.start()
        try:
            browser = Browser(server)
            browser.log_in((server.data / "initial-admin-password").read_text().strip())
            rows, load_before, load_after = measure_pages(
                browser, server, pages(facts), options.requests
            )
            status, _where, chain_page = browser.request("GET", "/oplog")
            chain_ok = status == 200 and "oplog-chain-ok" in chain_page
        finally:
            server.stop()
    finally:
        if schema:
            _drop_schema(schema)
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)
    out = io.StringIO()
    print(f"database:   {options.db}", file=out)
    print(
        f"log:        {options.entries} entries over 180 days (filled in {fill_seconds:.0f}s); "
        f"chain check on the page: {'ok' if chain_ok else 'NOT ok'}",
        file=out,
    )
    print(f"requests:   {options.requests} per page, one at a time, keep-alive", file=out)
    print(
        f"machine:    {os.cpu_count()} cores, load average {load_before:.1f} before and "
        f"{load_after:.1f} after the requests",
        file=out,
    )
    print_figures(rows, out, name_width=28)
    print(out.getvalue(), end="")


if __name__ == "__main__":
    main()
