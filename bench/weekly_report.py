"""The weekly report (POLICY.md A4) at fleet size: seconds and peak memory to build each format.

    .venv/bin/python -m bench.weekly_report --db sqlite
    .venv/bin/python -m bench.weekly_report --db postgresql  # $XUNJIAN_TEST_DATABASE_URL or local

A data folder is made by the real ``xunjian server init``; the week's history is then written
straight into the store in bulk (not through HTTPS: intake has its own benchmark): ``--hosts``
hosts in 10 groups, each sending ``--scans`` full scans of ``--checks`` results during last
week (one host in 50 sends nothing), plus one scan the week before that the report must
ignore. Each format is then built the way ``xunjian server report weekly`` builds it (one
query, the spool, the writer), in a fresh process so its peak memory is its own.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from bench.postgres import pg_schema_url

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ZONE = ZoneInfo("Asia/Shanghai")  # config.json's default console_timezone
STATUSES = ["pass", "pass", "pass", "fail", "pass", "not_applicable", "pass", "error"]
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def _init(data: Path, database_url: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "xunjian.cli",
            "server",
            "init",
            "--data",
            str(data),
            "--database-url",
            database_url,
        ],
        check=True,
        capture_output=True,
    )


def _results_for(host: int, checks: int, scan: int) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for check in range(checks):
        status = STATUSES[(host + check + scan) % len(STATUSES)]
        rows.append(
            (
                f"bench.check_{check:02d}",
                status,
                "host" if check % 3 else f"user:user{check}",
                f"check {check} on host {host}: {status} (scan {scan})",
                json.dumps({"value": check, "scan": scan, "detail": "证据" + "x" * 40}),
            )
        )
    return rows


def fill(database_url: str, hosts: int, checks: int, scans: int) -> tuple[str, int]:
    """Groups, agents, reports and result states for last week; returns (week, states)."""
    from server.reports.week import last_complete_week
    from server.store.models import Agent, Group, utcnow

    now = utcnow()
    week = last_complete_week(now, ZONE)
    start, end = week.bounds(ZONE)
    engine = create_engine(database_url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        connection.execute(insert(Group), [{"name": f"bench-{n}", "policy": {}} for n in range(10)])
        group_ids = [
            row[0]
            for row in connection.execute(
                text("SELECT id FROM groups WHERE name LIKE 'bench-%' ORDER BY id")
            )
        ]
        agents = [
            {
                "id": str(uuid.UUID(int=host + 1)),
                "public_key": "A" * 43 + "=",
                "hostname": f"pc-{host:05d}",
                "os": "Debian GNU/Linux 12",
                "platform": "linux",
                "agent_version": "0.1.0",
                "group_id": group_ids[host % len(group_ids)],
                "enrolled_at": start - datetime.timedelta(days=30),
                "last_seen": now,
            }
            for host in range(hosts)
        ]
        connection.execute(insert(Agent), agents)
    step = (end - start) / (scans + 1)
    report_rows = []
    result_count = 0
    report_id = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for host in range(hosts):
            if host % 50 == 49:
                continue  # silent all week
            agent_id = agents[host]["id"]
            # One scan before the week (ignored), then the week's scans.
            moments = [start - datetime.timedelta(hours=5)] + [
                start + step * (scan + 1) for scan in range(scans)
            ]
            batch = []
            for scan, moment in enumerate(moments):
                report_id += 1
                report_rows.append(
                    (report_id, agent_id, 1, report_id, "scan", moment, moment, 1, checks, True)
                )
                # Every scan here changes every result (the worst case for the report): each
                # is a state from this scan to the next (server/store/models.py ResultState).
                ended = moments[scan + 1] if scan + 1 < len(moments) else None
                for check_id, status, resource_name, message, evidence in _results_for(
                    host, checks, scan
                ):
                    batch.append(
                        (
                            agent_id,
                            check_id,
                            resource_name,
                            status,
                            message,
                            evidence,
                            "medium",
                            '["E8"]',
                            f"{report_id:032x}",
                            report_id,
                            moment,
                            ended,
                            False,
                        )
                    )
            result_count += len(batch)
            if postgres:
                _copy_pg(cursor, report_rows, batch)
            else:
                _insert_sqlite(cursor, report_rows, batch)
            report_rows.clear()
            if host % 1000 == 998:  # (hosts 49, 99, ... are the silent ones)
                raw.commit()
                print(f"  filled {host + 1} hosts, {result_count} states", flush=True)
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return str(week), result_count


STATE_COLUMNS = (
    "agent_id, check_id, resource, status, message, evidence, severity, rules, digest, "
    "report_id, observed_at, ended_at, apart"
)


def _insert_sqlite(cursor: object, reports: list, results: list) -> None:
    cursor.executemany(  # type: ignore[attr-defined]
        "INSERT INTO reports (id, agent_id, epoch, seq, kind, created_at, received_at, "
        "policy_version, result_count, in_states) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (*row[:5], row[5].strftime(SQLITE_TIME), row[6].strftime(SQLITE_TIME), *row[7:])
            for row in reports
        ],
    )
    cursor.executemany(  # type: ignore[attr-defined]
        f"INSERT INTO result_states ({STATE_COLUMNS}) VALUES ({', '.join('?' * 13)})",
        [
            (
                *row[:10],
                row[10].strftime(SQLITE_TIME),
                None if row[11] is None else row[11].strftime(SQLITE_TIME),
                row[12],
            )
            for row in results
        ],
    )


def _copy_pg(cursor: object, reports: list, results: list) -> None:
    with cursor.copy(  # type: ignore[attr-defined]
        "COPY reports (id, agent_id, epoch, seq, kind, created_at, received_at, policy_version, "
        "result_count, in_states) FROM STDIN"
    ) as copy:
        for row in reports:
            copy.write_row(row)
    with cursor.copy(  # type: ignore[attr-defined]
        f"COPY result_states ({STATE_COLUMNS}) FROM STDIN"
    ) as copy:
        for row in results:
            copy.write_row(row)


MEASURE = """
import json, resource, sys, time, tempfile
from pathlib import Path
from zoneinfo import ZoneInfo
from server.reports.collect import collect_week
from server.reports.formats import writer_for
from server.reports.signing import ensure_report_key
from server.reports.week import IsoWeek
from server.store.engine import make_engine

def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime

data, url, week, form = Path(sys.argv[1]), sys.argv[2], IsoWeek.parse(sys.argv[3]), sys.argv[4]
engine = make_engine(url)
key = ensure_report_key(data)
if form == "keep":  # what the weekly job does: one read, three files, compressed and indexed
    from server.reports.generate import keep_week
    wall, used = time.perf_counter(), cpu()
    row = keep_week(engine, data, week, ZoneInfo("Asia/Shanghai"), "console", "bench")
    print(json.dumps({"seconds": time.perf_counter() - wall, "cpu": cpu() - used,
                      "read_seconds": 0.0, "read_cpu": 0.0, "rows": row.rows, "hosts": row.hosts,
                      "bytes": sum(entry["bytes"] for entry in row.files.values()),
                      "verify_seconds": None,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "stored": sum((data / "reports" / entry["name"]).stat().st_size
                                    for entry in row.files.values())}))
    sys.exit(0)
with tempfile.TemporaryDirectory() as folder:
    wall, used = time.perf_counter(), cpu()
    week_data = collect_week(engine, week, ZoneInfo("Asia/Shanghai"), Path(folder), "bench")
    read_wall, read_cpu = time.perf_counter() - wall, cpu() - used
    target = Path(folder) / f"week.{form}"
    with target.open("wb") as out:
        writer_for(form, key)(week_data, out)
    seconds, cpu_seconds = time.perf_counter() - wall, cpu() - used
    size = target.stat().st_size
    verify_seconds = None
    if form == "json":
        from server.reports.verify import verify_file
        started = time.perf_counter()
        verify_file(target, data / "report-signing.pub")
        verify_seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "cpu": cpu_seconds, "read_seconds": read_wall,
                  "read_cpu": read_cpu, "bytes": size, "rows": week_data.row_count,
                  "hosts": week_data.summary["hosts"], "verify_seconds": verify_seconds,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
engine.dispose()
"""


def measure(data: Path, database_url: str, week: str, form: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(data), database_url, week, form],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(data: Path, database_url: str, week: str, formats: str) -> None:
    for form in formats.split(","):
        figures = measure(data, database_url, week, form)
        verify = (
            f", offline verify {figures['verify_seconds']:.1f} s"
            if figures["verify_seconds"] is not None
            else ""
        )
        if form == "keep":
            print(
                f"  keep : {figures['seconds']:6.1f} s ({figures['cpu']:.1f} s CPU) for all three "
                f"files of {figures['hosts']} hosts, {figures['bytes'] / 1e6:.0f} MB as "
                f"downloaded, {figures['stored'] / 1e6:.0f} MB stored, peak RSS "
                f"{figures['peak_rss_mib']:.0f} MiB",
                flush=True,
            )
            continue
        print(
            f"  {form:5}: {figures['seconds']:6.1f} s ({figures['cpu']:.1f} s CPU; "
            f"the database read {figures['read_seconds']:.1f} s, "
            f"{figures['read_cpu']:.1f} s CPU), {figures['rows']} rows for "
            f"{figures['hosts']} hosts, {figures['bytes'] / 1e6:.0f} MB, peak RSS "
            f"{figures['peak_rss_mib']:.0f} MiB{verify}",
            flush=True,
        )
    load = os.getloadavg()
    print(f"  load average while measuring: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=40)
    parser.add_argument("--scans", type=int, default=7, help="full scans per host in the week")
    parser.add_argument(
        "--formats",
        default="csv,xlsx,json,keep",
        help="what to time; keep = the weekly job's work (three files, compressed, indexed)",
    )
    parser.add_argument(
        "--reuse",
        type=Path,
        default=None,
        help="measure again on a SQLite folder an earlier run filled (FOLDER/bench.sqlite3, "
        "FOLDER/server); needs --week",
    )
    parser.add_argument("--week", default=None, help="with --reuse: the week it was filled for")
    args = parser.parse_args()
    if args.reuse is not None:
        database_url = f"sqlite:///{args.reuse / 'bench.sqlite3'}"
        print(f"sqlite (reused {args.reuse}), week {args.week}", flush=True)
        report(args.reuse / "server", database_url, args.week, args.formats)
        return

    with tempfile.TemporaryDirectory(prefix="xunjian-bench-") as folder:
        data = Path(folder) / "server"
        schema = None
        if args.db == "sqlite":
            database_url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        else:
            base = os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG)
            database_url, schema = pg_schema_url(base)
        try:
            _init(data, database_url)
            started = time.perf_counter()
            week, results = fill(database_url, args.hosts, args.checks, args.scans)
            fill_seconds = time.perf_counter() - started
            print(
                f"{args.db}: {args.hosts} hosts x {args.checks} checks x {args.scans} scans "
                f"in week {week} (+1 scan the week before): {results} result states written "
                f"in {fill_seconds:.0f} s",
                flush=True,
            )
            if args.db == "postgresql":
                engine = create_engine(database_url)
                with engine.begin() as connection:
                    connection.execute(text("ANALYZE"))
                engine.dispose()
            report(data, database_url, week, args.formats)
        finally:
            if schema is not None:
                engine = create_engine(
                    make_url(os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG))
                )
                with engine.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                engine.dispose()


if __name__ == "__main__":
    main()
