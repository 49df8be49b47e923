"""Scale out on PostgreSQL (issue 15): two ``xunjian server run`` instances, each with a data
folder of its own copied from the first (same keys, CA and database), on one PostgreSQL, behind
Debian's nginx configured from deploy/nginx/xunjian-scale-out.conf (TLS ended at nginx with the
product CA's certificate, HTTPS again to each instance).

Signing clients and a real agent report through nginx while one instance is killed (SIGKILL) in
mid-load: every report is confirmed, stored once, and both instances took reports (of the same
agent). Scheduled work runs once: a daily purge and last week's report, due at the start, are
each done by one instance (and the kept report is served intact by both: their reports/ folder
is shared), and a page monitor's site sees one fetch per recorded check.

PostgreSQL only (SQLite is one machine's file): skipped with the reason under a plain
``./dev test``, run when XUNJIAN_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import datetime
import hashlib
import http.client
import json
import re
import shutil
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.jobs.runner import FIRST_TICK_SECONDS
from server.monitors.jobs import CLAIM_SLACK_SECONDS
from tests.conftest import POSTGRESQL_ONLY
from tests.harness import (
    AgentUnderTest,
    ServerUnderTest,
    SimulatedAgent,
    enroll_simulated,
    free_port,
    option_value,
    run_cli,
    sample_results,
    stop_process,
    wait_for,
)
from tests.integration.conftest import stored_reports
from tests.integration.test_spine import _small_host_tree
from tests.monitors.conftest import LOOPBACK_ALLOWED
from tests.monitors.site import Site, home
from tests.nginx import SAMPLES, main_config, sample_with, start_nginx
from xunjian.core.contract import PATH_ENROLL, PATH_REPORTS
from xunjian.core.wire import public_key_to_text

pytestmark = POSTGRESQL_ONLY

SAMPLE = SAMPLES / "xunjian-scale-out.conf"
SIGNING_CLIENTS = 6
REPORTS_EACH = 30
RESULTS_EACH = 40
# Reports confirmed before one instance is killed: the kill falls in the middle of the load.
KILL_AFTER = SIGNING_CLIENTS * REPORTS_EACH // 3
# How long one report may take to be confirmed, retries included, before a client gives up.
DELIVERY_DEADLINE_SECONDS = 120
# The longest a monitor stays claimed by an instance killed in mid-probe (default timeout 10 s,
# 5 redirects: server/monitors/jobs.py claim_due).
MONITOR_CLAIM_SECONDS = 10 * (5 + 1) * 2 + CLAIM_SLACK_SECONDS
# The upstream addresses nginx logs, and the agent each request was signed by.
LOG_FORMAT = "log_format upstreams '$http_x_xunjian_agent $upstream_addr $status $request';"


@dataclass
class Cluster:
    servers: list[ServerUnderTest]
    # Requests to nginx's port, trusting the product's CA (as an agent does).
    proxy: ServerUnderTest
    work: Path
    nginx: subprocess.Popen[bytes]
    started: float  # time.monotonic() when both instances were up

    def upstream_lines(self) -> list[str]:
        return (self.work / "upstreams.log").read_text().splitlines()


def _make_due(database_url: str, jobs: tuple[str, ...]) -> None:
    """Lease rows made two days ago and never run: due at both instances' first tick."""
    engine = sqlalchemy.create_engine(database_url)
    made = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(days=2)
    try:
        with engine.begin() as connection:
            for name in jobs:
                connection.execute(
                    sqlalchemy.text(
                        "INSERT INTO job_leases (name, created_at) VALUES (:name, :made)"
                    ),
                    {"name": name, "made": made},
                )
    finally:
        engine.dispose()


def _enrolled_last_month(server: ServerUnderTest) -> None:
    """An agent enrolled (through the API, in this process, before the instances start) a
    month ago: last week's report is due at both instances' first tick."""
    from server.app import create_app

    assert server.database_url is not None
    token = option_value(server.create_token(), "--token")
    app = create_app(server.data)
    try:
        answer = app.test_client().post(
            PATH_ENROLL,
            json={
                "token": token,
                "public_key": public_key_to_text(Ed25519PrivateKey.generate().public_key()),
                "hostname": "enrolled-last-month",
                "platform": "linux",
                "os": "Debian GNU/Linux 12",
                "agent_version": "0.1.0",
            },
        )
        assert answer.status_code == 201, answer.get_data(as_text=True)
    finally:
        app.extensions["xunjian"].engine.dispose()
    engine = sqlalchemy.create_engine(server.database_url)
    month_ago = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(
        days=30
    )
    try:
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("UPDATE agents SET enrolled_at = :at WHERE id = :id"),
                {"at": month_ago, "id": answer.get_json()["agent_id"]},
            )
    finally:
        engine.dispose()


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    running.serve("/", home())
    yield running
    running.close()


@pytest.fixture
def cluster(
    database_url: str, tmp_path: Path, data_folder_templates: object, site: Site
) -> Iterator[Cluster]:
    proxy_port = free_port()
    first = ServerUnderTest(tmp_path / "server-a", database_url=database_url, log_dir=tmp_path)
    first.init_copy(data_folder_templates)
    first.set_config(
        workers=1,
        trusted_proxies=["127.0.0.2"],
        server_url=f"https://127.0.0.1:{proxy_port}",
        heartbeat_interval_seconds=1,
        scan_interval_seconds=5,
        **LOOPBACK_ALLOWED,
    )
    # Kept weekly reports are files: the instances share the folder (NFS in a real set-up).
    shared_reports = tmp_path / "shared-reports"
    shared_reports.mkdir(mode=0o700)
    (first.data / "reports").symlink_to(shared_reports)
    run_cli("server", "monitor", "add", site.url(), "--data", str(first.data), "--interval", "5")
    # The second instance: the first one's data folder copied (docs/operations.md).
    shutil.copytree(first.data, tmp_path / "server-b", symlinks=True)
    second = ServerUnderTest(tmp_path / "server-b", database_url=database_url, log_dir=tmp_path)
    _make_due(database_url, ("oplog_purge", "reports_purge"))
    _enrolled_last_month(first)
    servers = [first, second]
    work = tmp_path / "nginx"
    work.mkdir()
    nginx: subprocess.Popen[bytes] | None = None
    try:
        for server in servers:
            server.start()
        started = time.monotonic()
        block = sample_with(
            SAMPLE,
            "upstream xunjian_servers {",
            {
                "server 10.0.0.11:8443": f"server 127.0.0.1:{first.port}",
                "server 10.0.0.12:8443": f"server 127.0.0.1:{second.port}",
                "listen 8443 ssl;": f"listen 127.0.0.1:{proxy_port} ssl;",
                "/etc/ssl/xunjian/server.pem": str(first.data / "tls" / "server.pem"),
                "/etc/ssl/xunjian/server.key": str(first.data / "tls" / "server.key"),
                "/var/lib/xunjian/server/ca/ca.pem": str(first.data / "ca" / "ca.pem"),
                # nginx connects from 127.0.0.2, the trusted proxy; clients are on 127.0.0.1.
                "proxy_http_version 1.1;": "proxy_http_version 1.1;\n    proxy_bind 127.0.0.2;",
            },
        )
        logs = f"    {LOG_FORMAT}\n    access_log {work / 'upstreams.log'} upstreams;"
        nginx = start_nginx(work, main_config(work, block, logs))
        proxy = ServerUnderTest(first.data, database_url=database_url, port=proxy_port)
        proxy.ca_pem = first.ca_pem
        wait_for("nginx to answer", lambda: _answers(proxy, nginx, work))
        yield Cluster(servers, proxy, work, nginx, started)
    finally:
        stop_process(nginx)
        for server in servers:
            server.stop()


def _answers(proxy: ServerUnderTest, nginx: subprocess.Popen[bytes], work: Path) -> bool:
    if nginx.poll() is not None:
        raise AssertionError(f"nginx exited {nginx.returncode}: {(work / 'error.log').read_text()}")
    try:
        return proxy.request("GET", "/api/v1/agent/ca").status == 200
    except OSError:
        return False


@dataclass
class Delivery:
    """What the signing clients were told, shared by their threads."""

    confirmed: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        with self.lock:
            return sum(self.confirmed.values())


def _report(agent: SimulatedAgent, seq: int) -> bytes:
    return json.dumps(
        {
            "agent_id": agent.agent_id,
            "epoch": 1,
            "seq": seq,
            "kind": "scan",
            "created_at": "2026-11-23T10:00:00Z",
            "results": sample_results(RESULTS_EACH),
            "inventory": {"hostname": f"lab-{agent.agent_id[:8]}"},
        }
    ).encode()


def _deliver(proxy: ServerUnderTest, agent: SimulatedAgent, delivery: Delivery) -> None:
    """Send reports 1..REPORTS_EACH in order, each until it is confirmed, as an agent's spool
    does: any failure (an instance killed under the request, nginx's 502) is retried."""
    for seq in range(1, REPORTS_EACH + 1):
        body = _report(agent, seq)
        deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
        while True:
            try:
                headers = agent.signed("POST", PATH_REPORTS, body)
                answer = proxy.request("POST", PATH_REPORTS, body, headers)
                status, answered = answer.status, answer.json() if answer.status == 200 else None
            # The connection refused or cut, or an answer cut after its head (nginx had begun
            # to relay the killed instance's answer): the agent's transport retries them all.
            except (OSError, ValueError, http.client.HTTPException) as exc:
                status, answered = 0, repr(exc)
            if status == 200 and answered in (
                {"stored": True},
                {"stored": False, "duplicate": True},
            ):
                with delivery.lock:
                    delivery.confirmed[agent.agent_id] += 1
                    delivery.duplicates += answered.get("duplicate", False)
                break
            if time.monotonic() > deadline:
                with delivery.lock:
                    delivery.failures.append(f"{agent.agent_id} seq {seq}: {status} {answered!r}")
                return
            with delivery.lock:
                delivery.retries += 1
            time.sleep(0.3)


def _count(database_url: str, sql: str, **values: object) -> int:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sqlalchemy.text(sql), values).scalar() or 0)
    finally:
        engine.dispose()


def _purges(database_url: str) -> int:
    return _count(database_url, "SELECT count(*) FROM oplog_entries WHERE action = 'oplog.purge'")


def _scheduled_reports(database_url: str) -> int:
    return _count(
        database_url, "SELECT count(*) FROM weekly_reports WHERE scheduled_week IS NOT NULL"
    )


def _kept_reports(database_url: str) -> list[tuple[str, str]]:
    """(week, SHA-256 of the kept JSON file) of each scheduled weekly report."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text(
                    "SELECT week, files FROM weekly_reports WHERE scheduled_week IS NOT NULL"
                )
            ).all()
    finally:
        engine.dispose()
    return [(str(week), str(files["json"]["sha256"])) for week, files in rows]


def _monitor_checks(database_url: str) -> int:
    return _count(database_url, "SELECT count(*) FROM monitor_results")


def test_two_instances_behind_nginx_lose_and_double_nothing_when_one_dies(
    cluster: Cluster, database_url: str, site: Site, tmp_path: Path
) -> None:
    first, second = cluster.servers
    proxy = cluster.proxy
    words = first.create_token(uses=SIGNING_CLIENTS + 1)
    assert option_value(words, "--server") == proxy.url  # agents are told nginx's address
    token = option_value(words, "--token")
    clients = [enroll_simulated(proxy, token, f"lab-{n}") for n in range(SIGNING_CLIENTS)]
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(words)
    agent.tune(scan_interval_seconds=1, scan_root=str(_small_host_tree(tmp_path / "tree")))
    agent.start()
    # Both instances have had their first tick of the scheduled jobs (a random moment in their
    # first FIRST_TICK_SECONDS) before either stops: each tried the due purge, one ran it.
    wait_for("the due purge", lambda: _purges(database_url) >= 1)
    wait_for("last week's report to be kept", lambda: _scheduled_reports(database_url) >= 1)
    time.sleep(max(0.0, cluster.started + FIRST_TICK_SECONDS[1] + 1 - time.monotonic()))
    # Whichever instance kept it, each serves the kept file (reports/ is shared), intact.
    [(week, sha256)] = _kept_reports(database_url)
    api_token = first.api_token()
    for server in cluster.servers:
        answer = server.api(api_token, "GET", f"/api/v1/reports/weekly?week={week}&format=json")
        assert answer.status == 200, (server.port, answer.status, answer.body[:300])
        assert answer.headers["X-Report-SHA256"] == sha256
        assert hashlib.sha256(answer.body).hexdigest() == sha256
    delivery = Delivery()
    senders = [
        threading.Thread(target=_deliver, args=(proxy, client, delivery), daemon=True)
        for client in clients
    ]
    try:
        for sender in senders:
            sender.start()
        wait_for(
            "a third of the reports",
            lambda: delivery.total() >= KILL_AFTER,
            timeout=180,
            interval=0.02,
        )
        second.kill()  # in mid-load, without a goodbye
        at_kill = delivery.total()
        assert at_kill < SIGNING_CLIENTS * REPORTS_EACH, "the load was over before the kill"
        for sender in senders:
            sender.join(timeout=DELIVERY_DEADLINE_SECONDS * REPORTS_EACH)
        assert not any(sender.is_alive() for sender in senders)
        assert delivery.failures == [], delivery.failures[:5]
        wait_for("the agent's spool to drain", lambda: agent.status().get("spool_depth") == 0)
        # A probe the killed instance had claimed holds the monitor until its claim expires
        # (server/monitors/jobs.py: 150 s with the default timeout and redirects).
        wait_for(
            "three checks of the monitor",
            lambda: _monitor_checks(database_url) >= 3,
            timeout=MONITOR_CLAIM_SECONDS + 60,
        )
    finally:
        agent.stop()

    # Every report confirmed, each stored once, with all its results once.
    assert all(delivery.confirmed[c.agent_id] == REPORTS_EACH for c in clients), delivery
    engine = sqlalchemy.create_engine(database_url)
    try:
        for client in clients:
            assert stored_reports(engine, client.agent_id) == [
                (1, seq) for seq in range(1, REPORTS_EACH + 1)
            ]
        stored = stored_reports(engine, agent.agent_id)
        seqs = [seq for _epoch, seq in stored]
        assert len(stored) == len(set(stored)) and seqs == list(range(1, max(seqs) + 1)), seqs
    finally:
        engine.dispose()
    ids = ", ".join(f"'{client.agent_id}'" for client in clients)
    results = _count(
        database_url, f"SELECT SUM(result_count) FROM reports WHERE agent_id IN ({ids})"
    )
    assert results == SIGNING_CLIENTS * REPORTS_EACH * RESULTS_EACH
    # The same scan every time: stored as one state per result (issue 15), never twice, even
    # with reports of one agent written by both instances.
    states = _count(database_url, f"SELECT count(*) FROM result_states WHERE agent_id IN ({ids})")
    assert states == SIGNING_CLIENTS * RESULTS_EACH

    # Both instances took reports, and one agent's reports went to both.
    served: dict[str, set[str]] = {}
    for line in cluster.upstream_lines():
        found = re.match(r"(\S+) (.+?) 200 POST /api/v1/agent/reports ", line)
        if found:
            served.setdefault(found.group(1), set()).update(
                address.strip() for address in found.group(2).split(",")
            )
    instances = {f"127.0.0.1:{server.port}" for server in cluster.servers}
    assert set().union(*served.values()) >= instances, served
    assert any(len(addresses & instances) == 2 for addresses in served.values()), served

    # Scheduled work ran once: the purge made due before the start, by one instance of two.
    assert _purges(database_url) == 1
    assert _scheduled_reports(database_url) == 1
    generated = "SELECT count(*) FROM oplog_entries WHERE action = 'report.generate'"
    assert _count(database_url, generated) == 1
    # One fetch per recorded check: the baseline taken by `monitor add`, plus at most one check
    # in flight now and one the killed instance made but never recorded.
    checks = _monitor_checks(database_url)
    assert checks + 1 <= site.hits <= checks + 3, (site.hits, checks)
    moved = sum(
        1
        for line in cluster.upstream_lines()
        if "POST /api/v1/agent/reports" in line and ", " in line
    )
    print(  # the figures, for docs/PERFORMANCE.md (pytest -s)
        f"scale-out: {SIGNING_CLIENTS * REPORTS_EACH} reports, instance killed after {at_kill}, "
        f"{moved} moved by nginx to the other instance, {delivery.retries} retried by clients, "
        f"{delivery.duplicates} answered as duplicates, "
        f"{checks} monitor checks for {site.hits} fetches"
    )
    # The operation log both instances extended is one intact chain, checked against each
    # instance's anchor file (each appends the checkpoints it signed).
    for server in cluster.servers:
        verified = run_cli("server", "oplog", "verify", "--data", str(server.data), check=False)
        assert "operation log intact" in verified.stdout, (verified.stdout, verified.stderr)
    # The surviving instance still answers through nginx alone.
    assert proxy.request("GET", "/api/v1/agent/ca").status == 200
