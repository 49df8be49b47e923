"""Server report intake: reports per second and latency from simulated agents that enroll and
sign for real, against a real ``xunjian server run`` on loopback.

    .venv/bin/python -m bench.intake --db sqlite
    .venv/bin/python -m bench.intake --db postgresql  # $XUNJIAN_TEST_DATABASE_URL or local PG

Each report carries 40 results. Load comes from several client processes, each with several
keep-alive HTTPS connections; every request is signed with its agent's own Ed25519 key. The
client processes share the machine's two cores with the server, so the figure is a floor.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.harness import (
    ServerUnderTest,
    SimulatedAgent,
    enroll_simulated,
    option_value,
    sample_results,
)
from xunjian.core.contract import PATH_REPORTS

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _process_tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU of a process and all its descendants (the server's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(stats[pid][1] for pid in tree if pid in stats)


def _load_worker(
    port: int,
    ca_pem: bytes,
    agents: list[tuple[str, bytes]],
    reports_per_agent: int,
    threads: int,
    queue: Any,
) -> None:
    """One client process: threads with a keep-alive connection each, all agents of this slice."""
    import http.client
    import ssl

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    results_json = json.dumps(sample_results(40), separators=(",", ":")).encode()
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
        for seq in range(1, reports_per_agent + 1):
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
                        results_json,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--reports-per-agent", type=int, default=3)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="connections per process")
    parser.add_argument(
        "--workers", type=int, default=None, help="server processes (default: the server's own)"
    )
    options = parser.parse_args()

    url, schema = _database_url(options.db)
    with tempfile.TemporaryDirectory(prefix="xunjian-bench-") as scratch:
        server = ServerUnderTest(Path(scratch) / "server", database_url=url)
        server.init()
        if options.workers is not None:
            server.set_config(workers=options.workers)
        server.start()
        try:
            token = option_value(server.create_token(uses=options.agents, expires="2h"), "--token")
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=8) as pool:
                agents = list(
                    pool.map(
                        lambda n: enroll_simulated(server, token, f"pc-{n:05d}"),
                        range(options.agents),
                    )
                )
            enroll_seconds = time.perf_counter() - started
            from cryptography.hazmat.primitives import serialization

            raw = [
                (
                    a.agent_id,
                    a.key.private_bytes(
                        serialization.Encoding.Raw,
                        serialization.PrivateFormat.Raw,
                        serialization.NoEncryption(),
                    ),
                )
                for a in agents
            ]
            queue: Any = multiprocessing.Queue()
            cpu_before = _process_tree_cpu_seconds(server.process.pid)  # type: ignore[union-attr]
            started = time.perf_counter()
            processes = [
                multiprocessing.Process(
                    target=_load_worker,
                    args=(
                        server.port,
                        server.ca_pem,
                        raw[index :: options.processes],
                        options.reports_per_agent,
                        options.threads,
                        queue,
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
            cpu_used = _process_tree_cpu_seconds(server.process.pid) - cpu_before  # type: ignore[union-attr]
        finally:
            server.stop()
            if schema:
                _drop_schema(schema)

    latencies = sorted(value for part in gathered for value in part[0])
    errors = [value for part in gathered for value in part[1]]
    client_cpu = sum(part[2] for part in gathered)
    count = len(latencies)
    p99 = latencies[min(count - 1, int(count * 0.99))]
    print(f"database:            {options.db}")
    print(f"agents enrolled:     {options.agents} in {enroll_seconds:.1f}s")
    print(f"reports sent:        {count} (40 results each), errors: {len(errors)} {errors[:5]}")
    print(f"load:                {options.processes} processes x {options.threads} connections")
    print(f"server workers:      {options.workers or 'default'}")
    print(f"wall time:           {elapsed:.1f}s")
    print(f"intake:              {count / elapsed:.0f} reports/s")
    print(
        f"latency p50 / p99:   {statistics.median(latencies) * 1000:.1f} ms / {p99 * 1000:.1f} ms"
    )
    print(f"server CPU:          {cpu_used:.1f}s ({cpu_used / count * 1000:.2f} ms per report)")
    print(
        f"load generator CPU:  {client_cpu:.1f}s ({client_cpu / count * 1000:.2f} ms per report; "
        f"signing, JSON and TLS on the same {os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
