"""The 0023_result_state migration on a large database: how long folding the old per-report
``results`` rows into ``result_states`` takes, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.result_fold --db sqlite
    .venv/bin/python -m bench.result_fold --db postgresql   # $XUNJIAN_TEST_DATABASE_URL or local

A database is migrated to 0022_console (the schema before issue 15) and filled in bulk with
what a fleet wrote before issue 15: ``--hosts`` hosts, each with ``--reports`` reports an hour
apart (one in ten a partial report of another kind, the rest full scans) of ``--checks``
results, one row per result per report. Results change the way a real fleet's do: most stay
the same from scan to scan, a few checks flip between pass and fail, one check's evidence
changes now and then, and one resource comes and goes. The upgrade to 0023_result_state is
then timed (wall clock and this process's CPU; the database's own CPU is in the wall clock on
PostgreSQL). docs/PERFORMANCE.md, "Results retention and the 0023 migration", holds figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from bench.postgres import pg_schema_url
from server.store.engine import make_engine
from server.store.migrate import alembic_config

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
BEFORE = "0022_console"
TARGET = "0023_result_state"
START = datetime.datetime(2026, 5, 4, 8, 0)
RESULT_COLUMNS = (
    "report_id, agent_id, check_id, status, resource, message, evidence, severity, rules, said, "
    "observed_at"
)


def result_value(host: int, check: int, scan: int) -> tuple[str, str, str, str | None]:
    """(status, message, evidence JSON, said JSON) of one check on one host at one scan."""
    status = "fail" if check % 7 == 0 else "pass"
    if check % 10 == 3 and (scan // 5 + host) % 3 == 0:
        status = "fail"  # flips every five scans on a third of the hosts
    evidence: dict[str, Any] = {
        "value": check,
        "path": f"/etc/bench/{check}.conf",
        "lines": [f"setting_{check}_{line} = on" for line in range(3)],
        "detail": "证据" + "x" * 40,
    }
    if check == 11:
        evidence["pending"] = (scan + host) // 8  # a count that grows now and then
    said = None
    if check % 4 == 0:
        said = json.dumps({"id": f"bench.msg_{check}", "params": {"n": str(check)}})
    message = f"check {check} on host {host} is {status}"
    return status, message, json.dumps(evidence, ensure_ascii=False), said


def host_rows(
    host: int, first_report_id: int, reports: int, checks: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The reports and results rows of one host, in the columns of the 0022 schema."""
    agent_id = str(uuid.UUID(int=host + 1))
    report_rows: list[tuple[Any, ...]] = []
    result_rows: list[tuple[Any, ...]] = []
    for number in range(reports):
        report_id = first_report_id + number
        moment = START + datetime.timedelta(hours=number, seconds=host)
        partial = number % 10 == 9
        kind = "spot_check" if partial else "scan"
        picked = range(2) if partial else range(checks)
        count = 0
        for check in picked:
            if check == checks - 1 and number % 6 == 5:
                continue  # a resource that is sometimes not there (a USB disk, an account)
            status, message, evidence, said = result_value(host, check, number)
            result_rows.append(
                (
                    report_id,
                    agent_id,
                    f"bench.check_{check:02d}",
                    status,
                    "host" if check % 3 else f"user:user{check}",
                    message,
                    evidence,
                    "medium",
                    '["E8", "E16"]',
                    said,
                    moment,
                )
            )
            count += 1
        report_rows.append((report_id, agent_id, 1, report_id, kind, moment, moment, 1, count))
    return report_rows, result_rows


def fill(engine: Engine, hosts: int, reports: int, checks: int) -> int:
    """Write the old history; returns the number of results rows."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO groups (name, policy, policy_version, created_at) "
                "VALUES ('bench', '{}', 1, :now)"
            ),
            {"now": START},
        )
        group_id = connection.execute(text("SELECT id FROM groups WHERE name = 'bench'")).scalar()
        connection.execute(
            text(
                "INSERT INTO agents (id, public_key, hostname, os, platform, agent_version, "
                "group_id, enrolled_at, os_version, os_build) VALUES (:id, :key, :name, "
                "'Debian GNU/Linux 12', 'linux', '0.1.0', :group, :at, '', '')"
            ),
            [
                {
                    "id": str(uuid.UUID(int=host + 1)),
                    "key": "A" * 43 + "=",
                    "name": f"pc-{host:05d}",
                    "group": group_id,
                    "at": START - datetime.timedelta(days=1),
                }
                for host in range(hosts)
            ],
        )
    postgres = engine.dialect.name == "postgresql"
    written = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for host in range(hosts):
            report_rows, result_rows = host_rows(host, host * reports + 1, reports, checks)
            written += len(result_rows)
            if postgres:
                _copy_pg(cursor, report_rows, result_rows)
            else:
                _insert_sqlite(cursor, report_rows, result_rows)
            if host % 100 == 99:
                raw.commit()
        raw.commit()
    finally:
        raw.close()
    return written


def _sqlite_rows(rows: list[tuple[Any, ...]], times: tuple[int, ...]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        yield tuple(
            value.strftime(SQLITE_TIME) if index in times else value
            for index, value in enumerate(row)
        )


def _insert_sqlite(
    cursor: Any, reports: list[tuple[Any, ...]], results: list[tuple[Any, ...]]
) -> None:
    cursor.executemany(
        "INSERT INTO reports (id, agent_id, epoch, seq, kind, created_at, received_at, "
        "policy_version, result_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        list(_sqlite_rows(reports, (5, 6))),
    )
    cursor.executemany(
        f"INSERT INTO results ({RESULT_COLUMNS}) VALUES ({', '.join('?' * 11)})",
        list(_sqlite_rows(results, (10,))),
    )


def _copy_pg(cursor: Any, reports: list[tuple[Any, ...]], results: list[tuple[Any, ...]]) -> None:
    with cursor.copy(
        "COPY reports (id, agent_id, epoch, seq, kind, created_at, received_at, policy_version, "
        "result_count) FROM STDIN"
    ) as copy:
        for row in reports:
            copy.write_row(row)
    with cursor.copy(f"COPY results ({RESULT_COLUMNS}) FROM STDIN") as copy:
        for row in results:
            copy.write_row(row)


class BackendCpu:
    """CPU time of the PostgreSQL backends this engine's connections talk to (read from
    /proc: the database runs on this machine, on loopback), so the figures say how much of the
    wall clock was the database's work and how much waiting for the shared cores."""

    def __init__(self, engine: Engine) -> None:
        self.start: dict[int, float] = {}
        event.listen(engine, "checkout", self._checkout)

    @staticmethod
    def cpu(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _checkout(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = int(cursor.fetchone()[0])
        self.start.setdefault(pid, self.cpu(pid))

    def used(self) -> float:
        return sum(self.cpu(pid) - start for pid, start in self.start.items())


def _purge(engine: Engine, reports: int) -> str:
    """The results_purge job's deletion with its cutoff half way through the history."""
    from server.store.states import purge_history

    cutoff = START + datetime.timedelta(hours=reports // 2)
    wall, cpu = time.perf_counter(), time.process_time()
    purged = purge_history(engine, cutoff)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return (
        f"  results_purge, cutoff half way: {purged.reports} reports and {purged.states} "
        f"states deleted in {wall:.1f} s ({cpu:.1f} s CPU in this process)"
    )


def measure(database_url: str, hosts: int, reports: int, checks: int) -> None:
    engine = make_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), BEFORE)
        started = time.perf_counter()
        results = fill(engine, hosts, reports, checks)
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE"))
        print(
            f"{engine.dialect.name}: {hosts} hosts x {reports} reports x {checks} checks: "
            f"{results} results rows written in {time.perf_counter() - started:.0f} s",
            flush=True,
        )
        backend = BackendCpu(engine) if engine.dialect.name == "postgresql" else None
        wall, cpu = time.perf_counter(), time.process_time()
        command.upgrade(alembic_config(engine), TARGET)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        database_cpu = "" if backend is None else f", {backend.used():.1f} s CPU in PostgreSQL"
        with engine.connect() as connection:
            states = connection.execute(text("SELECT COUNT(*) FROM result_states")).scalar()
            apart = connection.execute(
                text("SELECT COUNT(*) FROM result_states WHERE apart")
            ).scalar()
        print(
            f"  upgrade to {TARGET}: {wall:.1f} s ({cpu:.1f} s CPU in this process"
            f"{database_cpu}), "
            f"{results / wall:,.0f} results rows a second; {states} states ({apart} apart)",
            flush=True,
        )
        print(_purge(engine, reports), flush=True)
        load = os.getloadavg()
        print(f"  load average while measuring: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--hosts", type=int, default=500)
    parser.add_argument("--reports", type=int, default=50, help="reports per host")
    parser.add_argument("--checks", type=int, default=40, help="results per full scan")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xunjian-bench-") as folder:
        schema = None
        base = os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG)
        if args.db == "sqlite":
            database_url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        else:
            database_url, schema = pg_schema_url(base)
        try:
            measure(database_url, args.hosts, args.reports, args.checks)
        finally:
            if schema is not None:
                engine = create_engine(make_url(base))
                with engine.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                engine.dispose()


if __name__ == "__main__":
    main()
