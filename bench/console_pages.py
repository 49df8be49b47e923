"""Console pages at fleet size: p50 / p95 / max per page, from a logged-in browser session
against a real ``xunjian server run`` on loopback.

    .venv/bin/python -m bench.console_pages --db sqlite
    .venv/bin/python -m bench.console_pages --db postgresql  # $XUNJIAN_TEST_DATABASE_URL or PG

The database is filled by bulk inserts, not through the agent API (that is bench/intake.py's
job): 10,000 hosts in 9 groups, 40 checks each (latest results and, per host, a few reports of
history with status changes), inventories with addresses, open alerts, twelve weeks of daily
compliance snapshots and some operation log entries about the measured host. Then one person
logs in, changes the initial password through the form (as everyone must) and requests each
page N times, one request at a time over one keep-alive connection. Target: p95 <= 300 ms.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import io
import json
import os
import random
import re
import statistics
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import Engine, create_engine, insert, select, text, update

from bench.intake import _database_url, _drop_schema, _process_tree_cpu_seconds
from server.config import load_config
from server.fleet.jobs import refresh_compliance
from server.fleet.views import HOSTS_PER_PAGE
from server.intake.report import LATEST_COLUMNS, STATE_COLUMNS
from server.oplog.models import OplogEntry, OplogHead
from server.store.models import Group
from tests.harness import ServerUnderTest
from xunjian.core.contract import SEVERITIES

NEW_PASSWORD = "Bench-pass-2026"
# No recount of compliance while pages are measured; its cost is measured and printed apart.
RECOUNT_SECONDS = 3600
GROUPS = (
    "office",
    "teaching-a",
    "teaching-b",
    "library",
    "lab",
    "dormitory",
    "finance",
    "servers",
)
STATUSES = ("pass",) * 15 + ("fail",) * 3 + ("not_applicable", "error")


def _check_ids(count: int) -> list[str]:
    from server.policy import check_catalog

    known = [str(entry["id"]) for entry in check_catalog()]
    extra = [f"bench.check_{index:02d}" for index in range(max(0, count - len(known)))]
    return (known + extra)[:count]


# --- bulk loading -------------------------------------------------------------------------


class Loader:
    """Rows into tables by the fastest path each database has: COPY on PostgreSQL, a C-level
    executemany on SQLite. Values are Python objects; JSON columns get their text."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        raw = self.engine.raw_connection()
        count = 0
        try:
            cursor = raw.cursor()
            if self.postgres:
                with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
            else:
                marks = ", ".join("?" * len(columns))
                sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
                for chunk in _chunks(map(_sqlite_values, rows), 20_000):
                    cursor.executemany(sql, chunk)
                    count += len(chunk)
            raw.commit()
        finally:
            raw.close()
        return count


def _sqlite_values(row: Sequence[Any]) -> Sequence[Any]:
    """Times as SQLAlchemy stores them on SQLite (its comparisons are on this text)."""
    return [
        value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime.datetime) else value
        for value in row
    ]


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def fill(engine: Engine, hosts: int, checks: int, reports: int, seed: int = 7) -> dict[str, Any]:
    """Fill a migrated, empty fleet; returns what the page requests need (ids, names)."""
    rng = random.Random(seed)
    loader = Loader(engine)
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    check_ids = _check_ids(checks)
    with engine.begin() as connection:
        connection.execute(
            insert(Group),
            [
                {"name": name, "policy": {}, "policy_version": 1, "created_at": now}
                for name in GROUPS
            ],
        )
        group_ids = list(connection.scalars(select(Group.id).order_by(Group.id)))
    agents: list[tuple[str, str, int, datetime.datetime, datetime.datetime | None]] = []
    for index in range(hosts):
        roll = rng.random()
        if roll < 0.85:
            last_seen = now - datetime.timedelta(seconds=rng.randint(0, 60))
        else:
            last_seen = now - datetime.timedelta(hours=rng.randint(1, 400))
        revoked = now - datetime.timedelta(days=1) if roll > 0.97 else None
        agents.append(
            (
                str(uuid.uuid4()),
                f"pc-{index:05d}",
                group_ids[index % len(group_ids)],
                last_seen,
                revoked,
            )
        )
    loader.load(
        "agents",
        (
            "id",
            "public_key",
            "hostname",
            "os",
            "platform",
            "agent_version",
            "group_id",
            "enrolled_at",
            "last_seen",
            "revoked_at",
        ),
        (
            (
                agent_id,
                "A" * 43 + "=",
                hostname,
                "Debian GNU/Linux 12",
                "linux",
                "0.1.0",
                group_id,
                now - datetime.timedelta(days=90),
                last_seen,
                revoked,
            )
            for agent_id, hostname, group_id, last_seen, revoked in agents
        ),
    )
    loader.load(
        "inventory",
        ("agent_id", "data", "report_id", "observed_at", "received_at"),
        (
            (
                agent_id,
                json.dumps(
                    {
                        "hostname": hostname,
                        "os": "Debian GNU/Linux 12",
                        "kernel": "6.1.0-26-amd64",
                        "addresses": [
                            {
                                "interface": "eth0",
                                "mac": f"52:54:00:{index:06x}"[:17],
                                "ipv4": [
                                    f"10.{index // 65536}.{index // 256 % 256}.{index % 256}/16"
                                ],
                                "ipv6": [],
                            }
                        ],
                    }
                ),
                0,
                now,
                now,
            )
            for index, (agent_id, hostname, *_rest) in enumerate(agents)
        ),
    )
    # Reports oldest first; each host's status per check drifts a little between reports.
    report_rows = []
    result_rows: list[Sequence[Any]] = []
    latest: dict[tuple[str, str], tuple[str, int, datetime.datetime]] = {}
    open_states: dict[tuple[str, str], tuple[Any, ...]] = {}
    report_id = 0
    for agent_id, *_rest in agents:
        states = [rng.choice(STATUSES) for _ in check_ids]
        for number in range(reports):
            report_id += 1
            created = now - datetime.timedelta(days=2 * (reports - number))
            report_rows.append(
                (
                    report_id,
                    agent_id,
                    1,
                    number + 1,
                    "scan",
                    created,
                    created,
                    1,
                    len(check_ids),
                    True,
                )
            )
            for position, check_id in enumerate(check_ids):
                if number and rng.random() < 0.05:
                    states[position] = rng.choice(STATUSES)
                status = states[position]
                # History is kept as states (server/store/models.py ResultState): a new row
                # only when the status changed, ending the one before.
                before = open_states.get((agent_id, check_id))
                if before is None or before[3] != status:
                    if before is not None:
                        result_rows.append((*before[:12], created, False))
                    open_states[(agent_id, check_id)] = (
                        agent_id,
                        check_id,
                        "host",
                        status,
                        f"{check_id} {status}",
                        '{"bench": true}',
                        "medium",
                        '["E8"]',
                        None,  # said: the bench's results carry the English message only
                        f"{report_id:032x}",
                        report_id,
                        created,
                    )
                latest[(agent_id, check_id)] = (status, report_id, created)
    result_rows.extend((*state, None, False) for state in open_states.values())
    loader.load(
        "reports",
        (
            "id",
            "agent_id",
            "epoch",
            "seq",
            "kind",
            "created_at",
            "received_at",
            "policy_version",
            "result_count",
            "in_states",
        ),
        report_rows,
    )
    loader.load("result_states", STATE_COLUMNS, result_rows)
    loader.load(
        "latest_results",
        LATEST_COLUMNS,
        (
            (
                agent_id,
                check_id,
                "host",
                status,
                f"{check_id} {status}",
                '{"bench": true}',
                "medium",
                '["E8"]',
                None,  # said
                rid,
                created,
                created,
            )
            for (agent_id, check_id), (status, rid, created) in latest.items()
        ),
    )
    failing = [
        (agent_id, check_id)
        for (agent_id, check_id), (status, *_r) in latest.items()
        if status == "fail"
    ]
    opened = rng.sample(failing, min(len(failing), 3000))
    loader.load(
        "alerts",
        (
            "kind",
            "severity",
            "agent_id",
            "check_id",
            "resource",
            "message",
            "open_key",
            "opened_at",
            "acknowledged_at",
            "acknowledged_by",
        ),
        (
            (
                "check_failed",
                rng.choice(SEVERITIES),
                agent_id,
                check_id,
                "host",
                "failed",
                f"check_failed:{agent_id}:{check_id}:host",
                now,
                now if position % 4 == 0 else None,
                "admin" if position % 4 == 0 else None,
            )
            for position, (agent_id, check_id) in enumerate(opened)
        ),
    )
    # Twelve weeks of daily snapshots, slowly improving, before today.
    judged_per_group = hosts * checks * 0.9 / len(group_ids)
    loader.load(
        "fleet_compliance_daily",
        ("day", "group_id", "hosts", "passed", "failed", "taken_at"),
        (
            (
                day,
                group_id,
                hosts // len(group_ids),
                int(judged_per_group * share),
                int(judged_per_group * (1 - share)),
                datetime.datetime.combine(day, datetime.time(1)),
            )
            for back in range(84, 0, -1)
            for day in [now.date() - datetime.timedelta(days=back)]
            for position, group_id in enumerate(group_ids)
            for share in [0.70 + 0.15 * (84 - back) / 84 + 0.01 * position]
        ),
    )
    measured = agents[hosts // 2]
    failing_check = max(
        check_ids, key=lambda c: sum(1 for (a, cid) in failing if cid == c) if c else 0
    )
    # Operation log entries about the measured host (not hash-chained: a bench database).
    with engine.begin() as connection:
        head = connection.execute(select(OplogHead.seq).where(OplogHead.id == 1)).scalar_one()
        entries = [
            {
                "seq": head + number,
                "at": now,
                "actor": "admin",
                "role": "admin",
                "action": "console.command.create",
                "target": f"host:{measured[0]}",
                "outcome": "ok",
                "reason": "",
                "client_address": "127.0.0.1",
                "client_port": 50000,
                "details": "{}",
                "prev_hash": "0" * 64,
                "hash": "0" * 64,
            }
            for number in range(1, 31)
        ]
        connection.execute(insert(OplogEntry), entries)
        connection.execute(
            update(OplogHead)
            .where(OplogHead.id == 1)
            .values(seq=head + 30, checkpoint_seq=head + 30)
        )
    # Statistics for the planners; on PostgreSQL also the visibility map that index-only scans
    # need, as autovacuum would have set it on a fleet that has been running for a while.
    tables = ("agents", "groups", "inventory", "latest_results", "result_states", "reports")
    tables += ("alerts",)
    tables += ("oplog_entries", "fleet_compliance_daily")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in tables:
                connection.execute(text(f"VACUUM ANALYZE {table}"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    return {
        "host_id": measured[0],
        "hostname": measured[1],
        "group": GROUPS[2],
        "failing_check": failing_check,
        "results": len(result_rows),
        "latest": len(latest),
        "last_page": max(1, -(-hosts // HOSTS_PER_PAGE)),
    }


# --- the console session ------------------------------------------------------------------


class Browser:
    """One keep-alive HTTPS connection with a cookie jar of one cookie, like a browser tab."""

    def __init__(self, server: ServerUnderTest) -> None:
        self.server = server
        self.cookie = ""
        self.connection = http.client.HTTPSConnection(
            "127.0.0.1", server.port, context=server.ssl_context(), timeout=120
        )

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, str, str]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        answer = self.connection.getresponse()
        page = answer.read().decode("utf-8", "replace")
        for name, value in answer.getheaders():
            if name.lower() == "set-cookie" and value.startswith("xunjian_session="):
                self.cookie = value.split(";", 1)[0]
        return answer.status, answer.getheader("Location") or "", page

    def csrf(self, path: str) -> str:
        status, _, page = self.request("GET", path)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if match is None:
            raise SystemExit(f"no CSRF token on {path} ({status})")
        return match.group(1)

    def log_in(self, password: str) -> None:
        token = self.csrf("/login")
        status, where, _ = self.request(
            "POST", "/login", {"name": "admin", "password": password, "csrf_token": token}
        )
        if status != 302 or not where.endswith("/password"):
            raise SystemExit(f"login failed: {status} {where}")
        token = self.csrf("/password")
        status, where, _ = self.request(
            "POST",
            "/password",
            {
                "current_password": password,
                "new_password": NEW_PASSWORD,
                "confirm_password": NEW_PASSWORD,
                "csrf_token": token,
            },
        )
        if status != 302:
            raise SystemExit(f"password change failed: {status}")


def pages(facts: dict[str, Any]) -> list[tuple[str, str]]:
    quoted = urllib.parse.quote
    return [
        # The floor: a page that only resumes the session.
        ("floor (password form)", "/password"),
        ("dashboard", "/"),
        ("hosts, page 1", "/hosts"),
        ("hosts, deep page", f"/hosts?page={facts['last_page']}"),
        ("hosts, search name", "/hosts?q=pc-0123"),
        ("hosts, search IP", "/hosts?q=10.0.19."),
        ("hosts, group filter", f"/hosts?group={quoted(facts['group'])}"),
        ("hosts, status offline", "/hosts?status=offline"),
        ("hosts, failing check", f"/hosts?failing={quoted(facts['failing_check'])}"),
        (
            "hosts, all filters",
            f"/hosts?group={quoted(facts['group'])}&status=online"
            f"&failing={quoted(facts['failing_check'])}&q=pc-0",
        ),
        ("host page", f"/hosts/{facts['host_id']}"),
        ("host operation log", f"/hosts/{facts['host_id']}/oplog"),
        ("checks", "/checks"),
        ("check page", f"/checks/{quoted(facts['failing_check'])}"),
    ]


def measure(browser: Browser, path: str, requests: int) -> tuple[list[float], int]:
    timings: list[float] = []
    size = 0
    for _ in range(requests):
        started = time.perf_counter()
        status, _, page = browser.request("GET", path)
        timings.append(time.perf_counter() - started)
        if status != 200:
            raise SystemExit(f"GET {path}: {status}\n{page[:2000]}")
        size = len(page.encode())
    return timings, size


@dataclass(frozen=True)
class PageFigures:
    name: str
    path: str
    timings: list[float]  # seconds, sorted
    size: int  # bytes of the last answer
    cpu: float  # the server processes' CPU seconds per request


def measure_pages(
    browser: Browser, server: ServerUnderTest, pages: list[tuple[str, str]], requests: int
) -> tuple[list[PageFigures], float, float]:
    """Each page ``requests`` times from ``browser``'s session (after two warm-up requests),
    with the server's CPU per request; and the load averages before and after."""
    assert server.process is not None
    rows = []
    load_before = os.getloadavg()[0]
    for name, path in pages:
        measure(browser, path, 2)  # warm the worker's caches and the database's
        cpu = _process_tree_cpu_seconds(server.process.pid)
        timings, size = measure(browser, path, requests)
        cpu = _process_tree_cpu_seconds(server.process.pid) - cpu
        rows.append(PageFigures(name, path, sorted(timings), size, cpu / requests))
    return rows, load_before, os.getloadavg()[0]


def print_figures(rows: list[PageFigures], out: TextIO, name_width: int) -> None:
    """The table both page benchmarks print: p50 / p95 / max ms, CPU ms and KiB per page."""
    print(
        f"{'page':<{name_width}} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'CPU ms':>7} "
        f"{'KiB':>6}",
        file=out,
    )
    for row in rows:
        timings = row.timings
        p95 = timings[min(len(timings) - 1, int(len(timings) * 0.95))]
        print(
            f"{row.name:<{name_width}} {statistics.median(timings) * 1000:8.1f} "
            f"{p95 * 1000:8.1f} {timings[-1] * 1000:8.1f} {row.cpu * 1000:7.1f} "
            f"{row.size / 1024:6.0f}",
            file=out,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=40)
    parser.add_argument("--reports", type=int, default=3, help="reports of history per host")
    parser.add_argument("--requests", type=int, default=30, help="requests per page")
    parser.add_argument("--keep", action="store_true", help="print the data folder, keep it")
    options = parser.parse_args()

    url, schema = _database_url(options.db)
    scratch = tempfile.mkdtemp(prefix="xunjian-bench-console-")
    try:
        server = ServerUnderTest(Path(scratch) / "server", database_url=url)
        server.init()
        engine = create_engine(url or f"sqlite:///{server.data / 'xunjian.sqlite3'}")
        started = time.perf_counter()
        facts = fill(engine, options.hosts, options.checks, options.reports)
        fill_seconds = time.perf_counter() - started
        # Today's compliance count, as the server's thread takes it every fleet_recount_seconds
        # (measured here on its own; during the page requests no recount is due).
        started, cpu = time.perf_counter(), time.process_time()
        zone = load_config(server.data).console_timezone  # the day the dashboard counts in
        refresh_compliance(engine, interval=RECOUNT_SECONDS, zone=zone)
        count_seconds = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
        server.set_config(fleet_recount_seconds=RECOUNT_SECONDS)
        server.start()
        try:
            browser = Browser(server)
            browser.log_in((server.data / "initial-admin-password").read_text().strip())
            rows, load_before, load_after = measure_pages(
                browser, server, pages(facts), options.requests
            )
        finally:
            server.stop()
    finally:
        if schema:
            _drop_schema(schema)
        if not options.keep:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
    out = io.StringIO()
    print(f"database:   {options.db}", file=out)
    print(
        f"fleet:      {options.hosts} hosts x {options.checks} checks, "
        f"{facts['latest']} latest results, {facts['results']} history states "
        f"(filled in {fill_seconds:.0f}s)",
        file=out,
    )
    print(
        f"compliance: counted in {count_seconds[0] * 1000:.0f} ms "
        f"({count_seconds[1] * 1000:.0f} ms CPU in this process: on SQLite the database's work, "
        "on PostgreSQL only the client's)",
        file=out,
    )
    print(f"requests:   {options.requests} per page, one at a time, keep-alive", file=out)
    print(
        f"machine:    {os.cpu_count()} cores, load average {load_before:.1f} before and "
        f"{load_after:.1f} after the requests",
        file=out,
    )
    print(
        "CPU ms:     the server processes' CPU per request (on PostgreSQL without the "
        "database's own)",
        file=out,
    )
    print_figures(rows, out, name_width=24)
    print(out.getvalue(), end="")
    if options.keep:
        print(f"data folder kept: {scratch}")


if __name__ == "__main__":
    main()
