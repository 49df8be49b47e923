"""Server report intake, side by side with a minimal reference server (issue 15): reports per
second, latency, CPU per report and database growth, from simulated agents that enroll and
sign for real, against a real ``xunjian server run`` on loopback.

    .venv/bin/python -m bench.intake                      # every target below, in one run
    .venv/bin/python -m bench.intake --targets sqlite,reference-sqlite

Targets: ``reference`` (bench/reference_server.py: the same TLS, threads, processes, signature
check and JSON parse, no database), ``reference-sqlite`` (the same, one SQLite transaction of
40 rows per report), ``sqlite`` and ``postgresql`` (xunjian; PostgreSQL from
$XUNJIAN_TEST_DATABASE_URL or the local server). Each agent sends ``--reports-per-agent``
reports of 40 results: the first is new to the server, the others equal it (an hourly scan of
a PC that did not change), then one more in which one result differs; the three phases are
measured apart. Load comes from several
client processes with several keep-alive HTTPS connections each; every request is signed
with its agent's own Ed25519 key. The clients share the machine's cores with the server, so
the figures are floors; on a shared machine the ratio to the reference is what holds.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness import ServerUnderTest, SimulatedAgent, option_value, sample_results
from xunjian.core.contract import PATH_ENROLL, PATH_REPORTS

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CORES = os.cpu_count() or 1


def _processes() -> dict[int, tuple[str, int, float]]:
    """{pid: (name, parent pid, user + system CPU seconds)} of every process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, rest = (entry / "stat").read_text().rpartition(")")
        except OSError:
            continue
        fields = rest.split()
        name = head.partition("(")[2]
        found[int(entry.name)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return found


def _process_tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU of a process and all its descendants (the server's workers)."""
    stats = _processes()
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        for pid, (_name, ppid, _cpu) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(stats[pid][2] for pid in tree if pid in stats)


def _postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process on this machine (backends, WAL writer,
    checkpointer): the database's share of a report, which the server's tree does not hold.
    Another job's use of the same PostgreSQL during a phase would count too."""
    return sum(cpu for name, _ppid, cpu in _processes().values() if name == "postgres")


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) clock ticks of every core since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return sum(values) - idle, sum(values)


def _load_worker(
    port: int,
    ca_pem: bytes,
    agents: list[tuple[str, bytes]],
    seqs: tuple[int, int],
    threads: int,
    queue: Any,
    seqs_changed_from: int,
) -> None:
    """One client process: threads with a keep-alive connection each, all agents of this slice."""
    import http.client
    import ssl

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    results_json = json.dumps(sample_results(40), separators=(",", ":")).encode()
    # The "one changed" phase: the first result's message names the report, so one of the
    # 40 differs from the host's latest (a PC where one thing changed since the last scan).
    changing = results_json.replace(b"simulated result 0 of a scan", b"result 0 of scan %d")
    simulated = [
        SimulatedAgent(agent_id, Ed25519PrivateKey.from_private_bytes(raw))
        for agent_id, raw in agents
    ]
    epoch = int(time.time() * 1000)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(chunk: list[SimulatedAgent]) -> None:
        context = ssl.create_default_context(cadata=ca_pem.decode())
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=60)
        mine: list[float] = []
        for seq in range(seqs[0], seqs[1] + 1):
            for agent in chunk:
                # The load generator should spend as little CPU as it can, since it shares
                # the cores with the server: the 40 results are encoded once per process and
                # only the numbering is written per report (each request is still signed).
                body = b"".join(
                    (
                        b'{"agent_id":"',
                        agent.agent_id.encode(),
                        b'","epoch":%d,"seq":%d,"kind":"scan","created_at":"' % (epoch, seq),
                        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode(),
                        b'","policy_version":1,"results":',
                        changing % seq if seq > seqs_changed_from else results_json,
                        b',"inventory":{"hostname":"bench","os":"Debian GNU/Linux 12"},"gaps":[]}',
                    )
                )
                started = time.perf_counter()
                try:
                    connection.request(
                        "POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body)
                    )
                    answer = connection.getresponse()
                    answer.read()
                    if answer.status != 200:
                        with lock:
                            errors.append(f"{answer.status}")
                except (OSError, http.client.HTTPException) as exc:
                    with lock:
                        errors.append(type(exc).__name__)
                    connection.close()
                    connection = http.client.HTTPSConnection(
                        "127.0.0.1", port, context=context, timeout=60
                    )
                mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)

    chunks = [simulated[index::threads] for index in range(threads)]
    workers = [threading.Thread(target=run, args=(chunk,)) for chunk in chunks if chunk]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # This process's own CPU: the load generator shares the machine's cores with the server.
    queue.put((latencies, errors, time.process_time()))


def _database_url(kind: str) -> tuple[str | None, str | None]:
    """(url for the server, schema to drop afterwards)."""
    if kind == "sqlite":
        return None, None
    import sqlalchemy

    base = os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG)
    schema = f"xj_bench_{secrets.token_hex(4)}"
    engine = sqlalchemy.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{schema}", schema


def _drop_schema(schema: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG))
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _sqlite_bytes(path: Path) -> int:
    """The bytes a SQLite database holds in use, its WAL folded in first."""
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        size = db.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _postgresql_bytes(schema: str) -> int:
    import sqlalchemy

    engine = sqlalchemy.create_engine(os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG))
    with engine.connect() as connection:
        total = connection.execute(
            sqlalchemy.text(
                "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind = 'r'"
            ),
            {"schema": schema},
        ).scalar()
    engine.dispose()
    return int(total or 0)


@dataclass
class Phase:
    reports: int
    seconds: float
    latencies: list[float]
    errors: list[str]
    server_cpu: float
    client_cpu: float
    grown_bytes: int | None
    database_cpu: float | None  # PostgreSQL's processes; None for SQLite (in the server)
    cores_busy: float  # of the machine's cores, busy on average during the phase (anything)

    def rate(self) -> float:
        return self.reports / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))] * 1000


def _run_phase(
    server_pid: int,
    port: int,
    ca_pem: bytes,
    agents: list[tuple[str, bytes]],
    seqs: tuple[int, int],
    options: argparse.Namespace,
    size: Any,
    postgresql: bool = False,
) -> Phase:
    queue: Any = multiprocessing.Queue()
    before_bytes = size()
    cpu_before = _process_tree_cpu_seconds(server_pid)
    database_before = _postgres_cpu_seconds() if postgresql else None
    busy_before, all_before = _machine_ticks()
    started = time.perf_counter()
    processes = [
        multiprocessing.Process(
            target=_load_worker,
            args=(
                port,
                ca_pem,
                agents[index :: options.processes],
                seqs,
                options.threads,
                queue,
                options.reports_per_agent,
            ),
        )
        for index in range(options.processes)
    ]
    for process in processes:
        process.start()
    gathered = [queue.get() for _ in processes]
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    cpu_used = _process_tree_cpu_seconds(server_pid) - cpu_before
    busy_after, all_after = _machine_ticks()
    database_cpu = None
    if database_before is not None:
        database_cpu = _postgres_cpu_seconds() - database_before
    after_bytes = size()
    latencies = [value for part in gathered for value in part[0]]
    return Phase(
        reports=len(latencies),
        seconds=elapsed,
        latencies=latencies,
        errors=[value for part in gathered for value in part[1]],
        server_cpu=cpu_used,
        client_cpu=sum(part[2] for part in gathered),
        grown_bytes=None if before_bytes is None else after_bytes - before_bytes,
        database_cpu=database_cpu,
        cores_busy=(busy_after - busy_before) / max(1, all_after - all_before) * CORES,
    )


def _per_report(seconds: float | None, phase: Phase) -> str:
    return "-" if seconds is None else f"{seconds / phase.reports * 1000:.2f}"


def _keys(count: int) -> list[Any]:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return [Ed25519PrivateKey.generate() for _ in range(count)]


def _raw(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
    )


def _enroll(server: ServerUnderTest, token: str, key: Any, hostname: str) -> str:
    from xunjian.core.wire import public_key_to_text

    payload = {
        "token": token,
        "public_key": public_key_to_text(key.public_key()),
        "hostname": hostname,
        "platform": "linux",
        "os": "Debian GNU/Linux 12",
        "agent_version": "0.1.0",
    }
    answer = server.request(
        "POST", PATH_ENROLL, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    if answer.status != 201:
        raise RuntimeError(f"enrollment refused: {answer.status} {answer.body!r}")
    return str(answer.json()["agent_id"])


def _measure(
    target: str, scratch: Path, keys: list[Any], options: argparse.Namespace
) -> tuple[Phase, Phase, Phase, float]:
    """(first reports, unchanged reports, one result changed, enrollment seconds)."""
    seqs_first = (1, 1)
    seqs_again = (2, options.reports_per_agent)
    seqs_changed = (options.reports_per_agent + 1, options.reports_per_agent + 1)
    folder = scratch / target
    url, schema = _database_url("postgresql" if target == "postgresql" else "sqlite")
    server = ServerUnderTest(folder / "server", database_url=url)
    server.init()
    if options.workers is not None:
        server.set_config(workers=options.workers)
    reference: subprocess.Popen[bytes] | None = None
    try:
        enroll_seconds = 0.0
        if target.startswith("reference"):
            import uuid

            from xunjian.core.wire import public_key_to_text

            ids = [str(uuid.uuid4()) for _ in keys]
            keys_file = folder / "keys.json"
            keys_file.write_text(
                json.dumps(
                    {i: public_key_to_text(k.public_key()) for i, k in zip(ids, keys, strict=True)}
                )
            )
            database = folder / "reference.sqlite3"
            store = "sqlite" if target == "reference-sqlite" else "none"
            reference = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.reference_server",
                    "--data",
                    str(server.data),
                    "--keys",
                    str(keys_file),
                    "--port",
                    str(server.port),
                    "--store",
                    store,
                    "--database",
                    str(database),
                    "--workers",
                    str(options.workers or 2),
                ],
                stdout=subprocess.PIPE,
            )
            assert reference.stdout is not None
            reference.stdout.readline()  # listening
            server.ca_pem = (server.data / "ca" / "ca.pem").read_bytes()
            pid = reference.pid
            size: Any = (lambda: _sqlite_bytes(database)) if store == "sqlite" else lambda: None
        else:
            server.start()
            assert server.process is not None
            pid = server.process.pid
            token = option_value(server.create_token(uses=len(keys), expires="2h"), "--token")
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                ids = list(
                    pool.map(
                        lambda pair: _enroll(server, token, pair[1], f"pc-{pair[0]:05d}"),
                        enumerate(keys),
                    )
                )
            enroll_seconds = time.perf_counter() - started
            if schema is not None:
                size = lambda: _postgresql_bytes(schema)  # noqa: E731
            else:
                size = lambda: _sqlite_bytes(server.data / "xunjian.sqlite3")  # noqa: E731
        agents = [(agent_id, _raw(key)) for agent_id, key in zip(ids, keys, strict=True)]
        pg = target == "postgresql"
        first, again, changed = (
            _run_phase(pid, server.port, server.ca_pem, agents, seqs, options, size, pg)
            for seqs in (seqs_first, seqs_again, seqs_changed)
        )
        return first, again, changed, enroll_seconds
    finally:
        if reference is not None:
            reference.terminate()
            reference.wait(30)
        else:
            server.stop()
        if schema:
            _drop_schema(schema)


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--targets",
        default="reference,reference-sqlite,sqlite,postgresql",
        help="comma separated: reference, reference-sqlite, sqlite, postgresql",
    )
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--reports-per-agent", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="connections per process")
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (default: the server's own)"
    )
    options = parser.parse_args()
    if options.reports_per_agent < 2:
        # The unchanged phase sends reports 2..N of each agent: with one there is none to time.
        parser.error("--reports-per-agent must be at least 2 (the first, then unchanged ones)")
    targets = [name.strip() for name in options.targets.split(",") if name.strip()]
    keys = _keys(options.agents)
    print(
        f"{options.agents} agents x {options.reports_per_agent} reports of 40 results; "
        f"load {options.processes} processes x {options.threads} connections; "
        f"{os.cpu_count()} cores; load average at start {_load()}",
        flush=True,
    )
    rows: list[tuple[str, dict[str, Phase], str]] = []
    with tempfile.TemporaryDirectory(prefix="xunjian-bench-") as scratch:
        for target in targets:
            first, again, changed, _enrolled = _measure(target, Path(scratch), keys, options)
            phases = {"first report": first, "unchanged": again, "one changed": changed}
            rows.append((target, phases, _load()))
            for name, phase in phases.items():
                print(
                    f"  {target:17} {name:12} {phase.rate():6.0f} reports/s  "
                    f"p50 {phase.percentile(0.5):6.1f} ms  p99 {phase.percentile(0.99):6.1f} ms  "
                    f"server CPU {phase.server_cpu / phase.reports * 1000:.2f} ms/report  "
                    f"database CPU {_per_report(phase.database_cpu, phase)}  "
                    f"cores busy {phase.cores_busy:.2f}  "
                    f"errors {len(phase.errors)} {phase.errors[:3]}",
                    flush=True,
                )
    floor = next((p["unchanged"].rate() for name, p, _l in rows if name == "reference"), None)
    print()
    print(
        "| target | phase | reports/s | p50 / p99 ms | server CPU ms/report | "
        "PostgreSQL CPU ms/report | client CPU ms/report | cores busy | DB growth per report | "
        "x reference | load avg after |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
    for name, phases, load in rows:
        for phase_name, phase in phases.items():
            grown = (
                "-"
                if phase.grown_bytes is None
                else f"{phase.grown_bytes / phase.reports / 1024:.2f} KiB"
            )
            ratio = f"{phase.rate() / floor:.2f}" if floor else "-"
            print(
                f"| {name} | {phase_name} | {phase.rate():.0f} | "
                f"{phase.percentile(0.5):.1f} / {phase.percentile(0.99):.1f} | "
                f"{phase.server_cpu / phase.reports * 1000:.2f} | "
                f"{_per_report(phase.database_cpu, phase)} | "
                f"{phase.client_cpu / phase.reports * 1000:.2f} | {phase.cores_busy:.2f} | "
                f"{grown} | {ratio} | {load} |"
            )


if __name__ == "__main__":
    main()
