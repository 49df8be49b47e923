"""Page monitors at scale: 1,000 monitors checked every 60 s against a local nginx on loopback,
by a real ``xunjian server run`` (two worker processes, each with its scheduler thread) and,
side by side, by Debian's prometheus-blackbox-exporter driven at the same rate.

    .venv/bin/python -m bench.monitors                       # 1,000 monitors, 60 s, 120 s window
    .venv/bin/python -m bench.monitors --interval 5 --window 60   # how far one machine goes
    .venv/bin/python -m bench.monitors --postgresql --only xunjian  # the server on PostgreSQL

Prints, for each: probes made in the window, probes per second, and CPU seconds per probe
(user + system of the server's process tree, or of the exporter's process; the load driver's
own CPU is not counted for the exporter, as Prometheus's scrape would not be). Both fetch the
same ~9 KB page; ours also checks a keyword, parses the page for tamper detection and writes
the result and state to the database (SQLite in the data folder); the exporter checks the
same keyword with a regular expression and writes nothing.

Needs: nginx (Debian nginx-light or nginx) and prometheus-blackbox-exporter.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.intake import DEFAULT_PG, _process_tree_cpu_seconds
from tests.harness import ServerUnderTest, free_port, stop_process
from tests.monitors.site import home

KEYWORD = "欢迎访问"


def _cpu_seconds(pid: int) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks


def start_nginx(root: Path, pages: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    html = root / "html"
    html.mkdir(parents=True)
    body = home()
    for number in range(pages):
        (html / f"p{number}.html").write_text(
            body.replace("示范学校网站", f"示范学校网站 {number}")
        )
    (root / "logs").mkdir()
    config = root / "nginx.conf"
    config.write_text(
        f"""daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/logs/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type text/html;
    charset utf-8;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {html};
        location / {{ try_files $uri.html =404; }}
    }}
}}
"""
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen(
        [nginx, "-c", str(config), "-p", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/p0", timeout=1).read()
            return process, port
        except OSError:
            time.sleep(0.1)
    stop_process(process)  # type: ignore[arg-type]
    raise RuntimeError(f"nginx did not start; see {root}/logs/error.log")


def bench_xunjian(
    work: Path,
    nginx_port: int,
    monitors: int,
    interval: int,
    warmup: float,
    window: float,
    database_url: str | None = None,
) -> dict[str, float]:
    from sqlalchemy import func, select, update

    from server.config import load_config
    from server.monitors import store
    from server.monitors.models import Monitor, MonitorResult
    from server.store.engine import make_engine, make_sessionmaker

    server = ServerUnderTest(work / "server", database_url=database_url)
    server.init()
    server.set_config(workers=2, monitor_threads=16)
    engine = make_engine(load_config(server.data).database_url)
    # The server's own migrations run at init; monitors are added as the API would add them.
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        for number in range(monitors):
            values = store.validate(
                {
                    "url": f"http://127.0.0.1:{nginx_port}/p{number}",
                    "interval_seconds": interval,
                    "keyword": KEYWORD,
                },
                creating=True,
            )
            store.create_monitor(session, values, "bench")
        session.commit()
    # Spread the first checks over one interval, as monitors added over time would be, and
    # start them after the server is up (an overdue monitor would be checked at once, bunched).
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + datetime.timedelta(
        seconds=min(warmup, 20)
    )
    with engine.begin() as connection:
        for monitor_id in range(1, monitors + 1):
            connection.execute(
                update(Monitor)
                .where(Monitor.id == monitor_id)
                .values(next_due_at=now + datetime.timedelta(seconds=random.uniform(0, interval)))
            )
    server.start()
    try:
        assert server.process is not None
        time.sleep(warmup)

        def results() -> int:
            with engine.connect() as connection:
                return int(connection.scalar(select(func.count()).select_from(MonitorResult)))

        count0, cpu0, t0 = results(), _process_tree_cpu_seconds(server.process.pid), time.time()
        time.sleep(window)
        count1, cpu1, t1 = results(), _process_tree_cpu_seconds(server.process.pid), time.time()
        with engine.connect() as connection:
            states = dict(
                connection.execute(
                    select(Monitor.state, func.count()).group_by(Monitor.state)
                ).all()
            )
    finally:
        server.stop()
        engine.dispose()
    probes = count1 - count0
    return {
        "probes": probes,
        "seconds": t1 - t0,
        "probes_per_second": probes / (t1 - t0),
        "cpu_seconds": cpu1 - cpu0,
        "cpu_ms_per_probe": 1000 * (cpu1 - cpu0) / max(probes, 1),
        "up": states.get("up", 0),
        "not_up": sum(v for k, v in states.items() if k != "up"),
    }


def bench_blackbox(
    work: Path, nginx_port: int, monitors: int, interval: int, warmup: float, window: float
) -> dict[str, float]:
    exporter = shutil.which("prometheus-blackbox-exporter")
    if exporter is None:
        raise SystemExit("apt-get install prometheus-blackbox-exporter")
    config = work / "blackbox.yml"
    config.write_text(
        f"""modules:
  http_keyword:
    prober: http
    timeout: 10s
    http:
      method: GET
      preferred_ip_protocol: ip4
      fail_if_body_not_matches_regexp: ["{KEYWORD}"]
"""
    )
    port = free_port()
    process = subprocess.Popen(
        [exporter, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/probe?module=http_keyword&target="
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    stop = threading.Event()
    counted = {"probes": 0, "ok": 0, "measuring": False}
    lock = threading.Lock()

    def one(number: int) -> None:
        target = f"http://127.0.0.1:{nginx_port}/p{number}"
        with urllib.request.urlopen(base + target, timeout=15) as answer:
            ok = b"probe_success 1" in answer.read()
        with lock:
            if counted["measuring"]:
                counted["probes"] += 1
                counted["ok"] += ok

    def drive() -> None:
        # Each target once per interval, spread evenly, like the server's scheduler.
        offsets = sorted((random.uniform(0, interval), n) for n in range(monitors))
        start = time.monotonic()
        cycle = 0
        with ThreadPoolExecutor(32) as pool:
            while not stop.is_set():
                for offset, number in offsets:
                    due = start + cycle * interval + offset
                    pause = due - time.monotonic()
                    if pause > 0 and stop.wait(pause):
                        return
                    pool.submit(one, number)
                cycle += 1

    driver = threading.Thread(target=drive, daemon=True)
    driver.start()
    try:
        time.sleep(warmup)
        with lock:
            counted["measuring"] = True
        cpu0, t0 = _cpu_seconds(process.pid), time.time()
        time.sleep(window)
        with lock:
            counted["measuring"] = False
        cpu1, t1 = _cpu_seconds(process.pid), time.time()
    finally:
        stop.set()
        driver.join(timeout=30)
        stop_process(process)  # type: ignore[arg-type]
    probes = counted["probes"]
    return {
        "probes": probes,
        "seconds": t1 - t0,
        "probes_per_second": probes / (t1 - t0),
        "cpu_seconds": cpu1 - cpu0,
        "cpu_ms_per_probe": 1000 * (cpu1 - cpu0) / max(probes, 1),
        "up": counted["ok"],
        "not_up": probes - counted["ok"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--warmup", type=float, default=30)
    parser.add_argument(
        "--window", type=float, default=120, help="seconds measured (whole intervals are best)"
    )
    parser.add_argument("--only", choices=("xunjian", "blackbox"), default=None)
    parser.add_argument(
        "--postgresql",
        action="store_true",
        help="the server on PostgreSQL ($XUNJIAN_TEST_DATABASE_URL or the local test database; "
        "a schema of its own, dropped afterwards)",
    )
    args = parser.parse_args()
    if args.postgresql:
        with postgresql_schema() as url:
            run(args, url)
    else:
        run(args, None)


@contextlib.contextmanager
def postgresql_schema() -> Iterator[str]:
    import secrets

    import sqlalchemy

    base = os.environ.get("XUNJIAN_TEST_DATABASE_URL", DEFAULT_PG)
    schema = f"xjbench_{secrets.token_hex(4)}"
    engine = sqlalchemy.create_engine(base)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def run(args: argparse.Namespace, database_url: str | None) -> None:
    database_name = "PostgreSQL" if database_url else "SQLite"
    with tempfile.TemporaryDirectory(prefix="xj-bench-monitors-") as folder:
        work = Path(folder)
        work.chmod(0o755)  # nginx's worker runs as nobody and must read the pages
        nginx, nginx_port = start_nginx(work / "nginx", args.monitors)
        try:
            print(
                f"{args.monitors} monitors every {args.interval} s "
                f"(target {args.monitors / args.interval:.1f} probes/s), "
                f"warm-up {args.warmup:g} s, window {args.window:g} s, "
                f"load average before: {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            runs = []
            if args.only in (None, "xunjian"):
                runs.append(
                    (
                        f"xunjian server run (2 workers, {database_name})",
                        bench_xunjian(
                            work,
                            nginx_port,
                            args.monitors,
                            args.interval,
                            args.warmup,
                            args.window,
                            database_url,
                        ),
                    )
                )
            if args.only in (None, "blackbox"):
                runs.append(
                    (
                        "prometheus-blackbox-exporter 0.23",
                        bench_blackbox(
                            work, nginx_port, args.monitors, args.interval, args.warmup, args.window
                        ),
                    )
                )
            print(
                f"{'prober':40} {'probes':>7} {'probes/s':>9} {'CPU s':>7} {'CPU ms/probe':>13} "
                f"{'ok':>6} {'not ok':>7}"
            )
            for name, figures in runs:
                print(
                    f"{name:40} {figures['probes']:>7.0f} {figures['probes_per_second']:>9.2f} "
                    f"{figures['cpu_seconds']:>7.2f} {figures['cpu_ms_per_probe']:>13.2f} "
                    f"{figures['up']:>6.0f} {figures['not_up']:>7.0f}"
                )
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            stop_process(nginx)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
