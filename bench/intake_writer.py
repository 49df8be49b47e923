"""The intake writer alone, in this process (issue 15): what one batch writer costs per report,
without TLS, HTTP, the load generator or a second server process sharing the cores.

    .venv/bin/python -m bench.intake_writer --db postgresql      # or --db sqlite
    .venv/bin/python -m bench.intake_writer --db sqlite --reports 4000 --batch 16

A fresh database (a SQLite file in a scratch folder, or a PostgreSQL schema of its own, dropped
afterwards) with ``--reports`` agents; each sends the bench's report of 40 results
(tests/harness.py ``sample_results``) three times, as bench/intake.py does: its first report,
one equal to it, and one in which one result differs. Each phase goes through
server/intake/writer.py ``_write_batch`` in batches of ``--batch``, the reports prepared
beforehand (``prepare`` runs in the request's thread in the server, not in the writer). Printed
per report: the writer thread's CPU, its wall time, and on PostgreSQL the CPU of the backend
that served it (from its /proc entry). bench/intake.py measures the whole server; this one
tells a change in the writer from the machine's drift, which end-to-end runs cannot.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy

from bench.intake import DEFAULT_PG
from server.intake.report import Prepared, prepare
from server.intake.writer import _Pending, _write_batch
from server.store.engine import make_engine
from server.store.migrate import upgrade_database
from server.store.models import Agent, Group
from tests.harness import sample_results
from xunjian.core.contract import bodies
from xunjian.core.schema import decode_json

PHASES = ("first report", "unchanged", "one changed")


def _body(agent_id: str, seq: int, results: str) -> bytes:
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return (
        f'{{"agent_id":"{agent_id}","epoch":1,"seq":{seq},"kind":"scan",'
        f'"created_at":"{created}","policy_version":1,"results":{results},'
        '"inventory":{"hostname":"bench","os":"Debian GNU/Linux 12"},"gaps":[]}'
    ).encode()


def _backend_cpu_seconds(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _phase(engine: sqlalchemy.Engine, prepared: list[Prepared], batch: int) -> tuple[float, ...]:
    """(writer CPU, wall, backend CPU) per report, in ms."""
    with engine.connect() as connection:
        pid = None
        if connection.dialect.name == "postgresql":
            pid = int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
            connection.commit()
        cpu, wall, backend = time.thread_time(), time.perf_counter(), _backend_cpu_seconds(pid)
        for start in range(0, len(prepared), batch):
            pending = [_Pending(one) for one in prepared[start : start + batch]]
            _write_batch(connection, pending)
            if any(one.error is not None or one.report_id is None for one in pending):
                raise SystemExit("a report was not stored: the bench measures nothing")
        cpu = time.thread_time() - cpu
        wall = time.perf_counter() - wall
        backend = _backend_cpu_seconds(pid) - backend
    count = len(prepared) / 1000
    return cpu / count, wall / count, backend / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--reports", type=int, default=2000, help="agents, one report each")
    parser.add_argument("--batch", type=int, default=8, help="reports per transaction")
    options = parser.parse_args()
    schema = None
    base = os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG)
    with tempfile.TemporaryDirectory(prefix="xunjian-bench-") as scratch:
        if options.db == "sqlite":
            url = f"sqlite:///{scratch}/xunjian.sqlite3"
        else:
            schema = f"xj_bench_{secrets.token_hex(4)}"
            admin = sqlalchemy.create_engine(base)
            with admin.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            admin.dispose()
            url = f"{base}?options=-csearch_path%3D{schema}"
        engine = make_engine(url)
        try:
            _run(engine, options)
        finally:
            engine.dispose()
            if schema is not None:
                admin = sqlalchemy.create_engine(base)
                with admin.begin() as connection:
                    connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
                admin.dispose()


def _run(engine: sqlalchemy.Engine, options: argparse.Namespace) -> None:
    upgrade_database(engine)
    agents = [str(uuid.uuid4()) for _ in range(options.reports)]
    with engine.begin() as connection:
        group = connection.execute(
            sqlalchemy.insert(Group).values(name="bench").returning(Group.id)
        ).scalar_one()
        rows: list[dict[str, Any]] = [
            {"id": agent, "public_key": "-", "hostname": f"pc-{n}", "platform": "linux"}
            for n, agent in enumerate(agents)
        ]
        connection.execute(sqlalchemy.insert(Agent), [row | {"group_id": group} for row in rows])
    results = json.dumps(sample_results(40), separators=(",", ":"))
    changed = results.replace("simulated result 0 of a scan", "result 0 of scan 3")
    print(
        f"{options.db}: {options.reports} agents, 40 results per report, "
        f"batches of {options.batch}; load average at start {os.getloadavg()[0]:.1f}"
    )
    for seq, name in enumerate(PHASES, start=1):
        text = changed if name == "one changed" else results
        prepared = [
            prepare(agent, decode_json(_body(agent, seq, text), bodies.Report)) for agent in agents
        ]
        cpu, wall, backend = _phase(engine, prepared, options.batch)
        database = f"  backend CPU {backend:.3f} ms" if engine.dialect.name != "sqlite" else ""
        print(f"  {name:12}  writer CPU {cpu:.3f} ms  wall {wall:.3f} ms{database}  per report")


if __name__ == "__main__":
    main()
