"""End to end: real `xunjian server run` and `xunjian agent run` processes on loopback.

Each test runs on SQLite and, when XUNJIAN_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import json
import stat
import time
import uuid
from pathlib import Path

import sqlalchemy
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checks.api import registry_catalog
from tests.harness import (
    AgentUnderTest,
    ServerUnderTest,
    SimulatedAgent,
    check_ca_pin,
    enroll_simulated,
    option_value,
    run_cli,
    sample_results,
    wait_for,
)
from tests.integration.conftest import count_rows, stored_reports
from xunjian.core.contract import PATH_ENROLL, PATH_REPORTS

STATUSES = {"pass", "fail", "error", "not_applicable", "no_privilege"}
TABLES = ("reports", "result_states", "agents")  # what a refused request must not change


def _hosts(server: ServerUnderTest, token: str) -> list[dict]:
    answer = server.api(token, "GET", "/api/v1/hosts")
    assert answer.status == 200, answer.body
    body = answer.json()
    return body["hosts"] if isinstance(body, dict) else body


def _results(server: ServerUnderTest, token: str, host_id: str) -> list[dict]:
    answer = server.api(token, "GET", f"/api/v1/hosts/{host_id}/results")
    assert answer.status == 200, answer.body
    body = answer.json()
    return body["results"] if isinstance(body, dict) else body


def _report_body(agent: SimulatedAgent, seq: int, message: str, epoch: int = 1) -> bytes:
    results = sample_results(3)
    for result in results:
        result["message"] = message
    return json.dumps(
        {
            "agent_id": agent.agent_id,
            "epoch": epoch,
            "seq": seq,
            "kind": "scan",
            "created_at": "2026-11-23T10:00:00Z",
            "policy_version": 1,
            "results": results,
            "inventory": {"hostname": "lab-pc", "os": "Debian GNU/Linux 12"},
            "gaps": [],
        }
    ).encode()


def test_agent_enrolls_reports_and_results_are_served(
    server: ServerUnderTest, tmp_path: Path
) -> None:
    words = server.create_token()
    check_ca_pin(server, words)
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(words)
    assert stat.S_IMODE((tmp_path / "agent").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "agent" / "key.pem").stat().st_mode) == 0o600
    agent.tune()
    agent.start()
    try:
        api = server.api_token()
        host_id = agent.agent_id
        results = wait_for(
            "the agent's first scan results through the API",
            lambda: _results(server, api, host_id),
        )
        hosts = {host["id"]: host for host in _hosts(server, api)}
        assert host_id in hosts, hosts
        assert hosts[host_id]["online"] is True
        known_checks = {entry["id"] for entry in registry_catalog()}
        assert {result["check_id"] for result in results} <= known_checks
        assert {result["status"] for result in results} <= STATUSES
        assert all(result["rules"] for result in results)
        status = wait_for(
            "the agent to report an empty spool",
            lambda: (s := agent.status()).get("spool_depth") == 0 and s.get("last_report_at") and s,
        )
        assert status["enrolled"] is True
        assert status["agent_id"] == host_id
    finally:
        agent.stop()
    assert agent.process is not None and agent.process.returncode == 0, agent.log()


def test_the_hostname_is_a_label_not_an_identity(server: ServerUnderTest) -> None:
    token = option_value(server.create_token(uses=2), "--token")
    first = enroll_simulated(server, token, "same-name")
    second = enroll_simulated(server, token, "same-name")
    assert first.agent_id != second.agent_id
    api = server.api_token()
    labelled = [host for host in _hosts(server, api) if host["hostname"] == "same-name"]
    assert len(labelled) == 2


def test_refused_requests_change_nothing(
    server: ServerUnderTest, database: sqlalchemy.Engine
) -> None:
    token = option_value(server.create_token(uses=1), "--token")
    agent = enroll_simulated(server, token, "lab-pc")

    body = _report_body(agent, 1, "first")
    answer = server.request("POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body))
    assert answer.status == 200, answer.body
    assert answer.json()["stored"] is True

    # A retried (replayed) report is accepted as a duplicate and stored once.
    answer = server.request("POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body))
    assert answer.status == 200, answer.body
    assert answer.json() == {"stored": False, "duplicate": True}

    before = {table: count_rows(database, table) for table in TABLES}

    def refused(expected: int, method: str, path: str, body: bytes, headers: dict) -> None:
        answer = server.request(method, path, body, headers)
        assert answer.status == expected, (answer.status, answer.body)
        assert "error" in answer.json()

    # The body changed after signing: the signature no longer verifies.
    signed = agent.signed("POST", PATH_REPORTS, _report_body(agent, 2, "original"))
    refused(401, "POST", PATH_REPORTS, _report_body(agent, 2, "tampered"), signed)
    # A send time an hour old is stale, even with a good signature.
    stale = _report_body(agent, 3, "stale")
    old = int(time.time()) - 3600
    refused(401, "POST", PATH_REPORTS, stale, agent.signed("POST", PATH_REPORTS, stale, old))
    # An agent id the server never issued, signing with its own key.
    stranger = SimulatedAgent(str(uuid.uuid4()), Ed25519PrivateKey.generate())
    alien = _report_body(stranger, 1, "stranger")
    refused(401, "POST", PATH_REPORTS, alien, stranger.signed("POST", PATH_REPORTS, alien))
    # Someone else's key signing in this agent's name.
    impostor = SimulatedAgent(agent.agent_id, Ed25519PrivateKey.generate())
    forged = _report_body(impostor, 4, "impostor")
    refused(401, "POST", PATH_REPORTS, forged, impostor.signed("POST", PATH_REPORTS, forged))
    # No signature at all.
    refused(
        401,
        "POST",
        PATH_REPORTS,
        _report_body(agent, 5, "unsigned"),
        {"Content-Type": "application/json"},
    )
    # Oversized: beyond the 2 MiB limit.
    huge = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    refused(413, "POST", PATH_REPORTS, huge, agent.signed("POST", PATH_REPORTS, huge))
    # Malformed JSON, correctly signed.
    broken = b'{"agent_id": "' + agent.agent_id.encode() + b'", "seq": '
    refused(400, "POST", PATH_REPORTS, broken, agent.signed("POST", PATH_REPORTS, broken))
    # Valid JSON that breaks the schema: a status outside the closed set.
    wrong = json.loads(_report_body(agent, 6, "schema"))
    wrong["results"][0]["status"] = "probably-fine"
    wrong_body = json.dumps(wrong).encode()
    refused(400, "POST", PATH_REPORTS, wrong_body, agent.signed("POST", PATH_REPORTS, wrong_body))

    after = {table: count_rows(database, table) for table in TABLES}
    assert after == before
    assert stored_reports(database, agent.agent_id) == [(1, 1)]
    api = server.api_token()
    messages = {result["message"] for result in _results(server, api, agent.agent_id)}
    assert messages == {"first"}


def test_enrollment_tokens_are_refused_when_spent_expired_or_unknown(
    server: ServerUnderTest, database: sqlalchemy.Engine
) -> None:
    token = option_value(server.create_token(uses=1), "--token")
    enroll_simulated(server, token, "pc-1")
    agents_before = count_rows(database, "agents")

    def enroll_refused(secret: str) -> None:
        key = Ed25519PrivateKey.generate()
        from xunjian.core.wire import public_key_to_text

        payload = {
            "token": secret,
            "public_key": public_key_to_text(key.public_key()),
            "hostname": "pc-x",
            "platform": "linux",
            "os": "Debian",
            "agent_version": "0.1.0",
        }
        answer = server.request(
            "POST", PATH_ENROLL, json.dumps(payload).encode(), {"Content-Type": "application/json"}
        )
        assert answer.status == 401, (answer.status, answer.body)

    enroll_refused(token)  # used up
    enroll_refused("x" * 43)  # never issued
    expired = option_value(server.create_token(uses=5, expires="1s"), "--token")
    time.sleep(2.5)
    enroll_refused(expired)
    assert count_rows(database, "agents") == agents_before


def _small_host_tree(root: Path) -> Path:
    """A host's files without its commands: scans of it take milliseconds, not seconds, so the
    delivery tests below are about delivery."""
    etc = root / "etc"
    etc.mkdir(parents=True)
    for name in ("passwd", "group", "os-release", "login.defs"):
        source = Path("/etc") / name
        (etc / name).write_bytes(source.read_bytes())
    return root


def test_every_report_arrives_once_across_a_server_outage(
    server: ServerUnderTest, database: sqlalchemy.Engine, tmp_path: Path
) -> None:
    words = server.create_token(uses=2)
    tree = _small_host_tree(tmp_path / "host-tree")
    agents = [AgentUnderTest(tmp_path / f"agent{n}") for n in range(2)]
    for agent in agents:
        agent.enroll(words)
        agent.tune(scan_interval_seconds=1, scan_root=str(tree))
        agent.start()
    try:
        for agent in agents:
            wait_for("a first stored report", lambda a=agent: stored_reports(database, a.agent_id))
        server.kill()
        # While the server is down the agents keep scanning into their spools.
        for agent in agents:
            wait_for(
                "reports to wait in the spool",
                lambda a=agent: (a.status().get("spool_depth") or 0) >= 2,
                timeout=90,
            )
        server.start()
        for agent in agents:
            wait_for(
                "the spool to drain",
                lambda a=agent: a.status().get("spool_depth") == 0,
                timeout=120,
            )
        # Kill one agent outright in mid-flight and start it again: nothing is lost or doubled.
        before_restart = len(stored_reports(database, agents[0].agent_id))
        agents[0].kill()
        agents[0].start()
        wait_for(
            "a report after the agent's restart",
            lambda: len(stored_reports(database, agents[0].agent_id)) > before_restart + 1,
            timeout=90,
        )
    finally:
        for agent in agents:
            agent.stop()
    for agent in agents:
        stored = stored_reports(database, agent.agent_id)
        assert len(stored) == len(set(stored)), "a report was stored twice"
        epochs = {epoch for epoch, _ in stored}
        assert len(epochs) == 1, f"the spool's epoch changed: {epochs}"
        seqs = [seq for _, seq in stored]
        # Every sequence number from 1 to the last one stored is there: none lost on the way
        # (a report made just before the final stop may still wait in the spool, after them).
        assert seqs == list(range(1, max(seqs) + 1)), (seqs, agent.log()[-3000:])


def test_scan_now_command_reaches_the_agent(
    server: ServerUnderTest, database: sqlalchemy.Engine, tmp_path: Path
) -> None:
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(server.create_token())
    # Scans only once an hour on their own: a second report must come from the command. A small
    # tree: this test is about the command's path, and a scan of this whole machine costs
    # seconds of CPU (test_agent_enrolls_reports_and_results_are_served makes one).
    tree = _small_host_tree(tmp_path / "host-tree")
    agent.tune(scan_interval_seconds=3600, scan_root=str(tree))
    agent.start()
    try:
        wait_for("the first report", lambda: stored_reports(database, agent.agent_id))
        first = len(stored_reports(database, agent.agent_id))
        api = server.api_token()
        answer = server.api(
            api, "POST", f"/api/v1/hosts/{agent.agent_id}/commands", {"type": "scan_now"}
        )
        assert answer.status in (200, 201, 202), answer.body
        wait_for(
            "a report caused by scan_now",
            lambda: len(stored_reports(database, agent.agent_id)) > first,
        )
    finally:
        agent.stop()


def test_a_revoked_agent_is_refused_and_stores_nothing_more(
    server: ServerUnderTest, database: sqlalchemy.Engine, tmp_path: Path
) -> None:
    tree = _small_host_tree(tmp_path / "host-tree")
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(server.create_token())
    agent.tune(scan_interval_seconds=1, scan_root=str(tree))
    agent.start()
    try:
        wait_for("a first stored report", lambda: stored_reports(database, agent.agent_id))
        listed = run_cli("server", "agent", "list", "--data", str(server.data)).stdout
        assert agent.agent_id in listed and "online" in listed, listed
        revoked = run_cli("server", "agent", "revoke", agent.agent_id, "--data", str(server.data))
        assert "revoked" in revoked.stdout
        # A report authenticated just before the revocation may still land just after it; once
        # the agent's spool grows (its reports are refused), nothing more may be stored.
        wait_for(
            "the agent's reports to be refused and kept",
            lambda: (
                "401" in (agent.status().get("last_error") or "")
                and agent.status()["spool_depth"] >= 2
            ),
            timeout=60,
        )
        settled = len(stored_reports(database, agent.agent_id))
        time.sleep(3)  # several scan intervals: reports keep being made, none may be stored
        assert len(stored_reports(database, agent.agent_id)) == settled
        assert agent.status()["spool_depth"] > 0  # kept, not thrown away
    finally:
        agent.stop()
    listed = run_cli("server", "agent", "list", "--data", str(server.data)).stdout
    assert "revoked" in listed
    again = run_cli("server", "agent", "revoke", agent.agent_id, "--data", str(server.data))
    assert "already revoked" in again.stdout
    unknown = run_cli(
        "server", "agent", "revoke", "not-an-id", "--data", str(server.data), check=False
    )
    assert unknown.returncode == 1 and "not an agent id" in unknown.stderr
