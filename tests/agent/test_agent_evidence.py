"""The agent's evidence snapshot (agent/evidence.py) in the runner: the ``evidence`` command
runs only where the host's own agent.json allows it; a snapshot taken while the server cannot
be reached is signed with the agent's key, kept 0600 in the state folder and waits in the
spool, across a restart, until it can go up. The upload itself, interrupted and resumed
against a real server, is in tests/integration/test_evidence_e2e.py."""

from __future__ import annotations

import json
import os
import socket
import stat
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cli import status_document
from agent.evidence import take_snapshot
from agent.service import RunningAgent, build_service
from agent.spool import Spool
from agent.state import AgentState
from agent.transport import ServerUrl, Transport, pinned_context
from tests.agent.agent_testkit import ScriptedApi, ThrowawayCA
from tests.agent.test_agent_runner import FakeScan, scan, state
from xunjian.core.evidence import verify_file

__all__ = ["scan", "state"]  # the runner tests' fixtures (ca, api, server: tests/agent/conftest.py)


@pytest.fixture
def agent(state: AgentState, scan: FakeScan) -> Iterator[RunningAgent]:
    running = build_service(state, scanner=scan)
    running.service.backoff.base = running.service.backoff.cap = 1e-9
    yield running
    running.close()


def test_the_evidence_command_needs_the_local_allowance(
    state: AgentState, scan: FakeScan, api: ScriptedApi
) -> None:
    config = json.loads(state.config_path.read_text())
    assert "evidence" in config["allowed_commands"]  # the default: it only reads the host
    config["allowed_commands"] = ["scan_now"]
    state.config_path.write_text(json.dumps(config))
    running = build_service(state, scanner=scan)
    try:
        command = str(uuid.uuid4())
        api.commands = [{"id": command, "type": "evidence"}]
        running.service.heartbeat()
        running.service.heartbeat()
    finally:
        running.close()
    assert not (state.directory / "evidence").exists()
    assert command in api.heartbeats[1]["acked_commands"]  # refused, and still acknowledged


def test_a_snapshot_waits_in_the_spool_while_the_server_is_away(
    agent: RunningAgent, state: AgentState, ca: ThrowawayCA
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    identity = agent.service.transport.identity
    assert identity is not None
    agent.service.transport = Transport(
        ServerUrl("127.0.0.1", port, ""), pinned_context(ca.cert_pem), identity
    )
    snapshot = agent.service.take_evidence("alert 7: web shell", None)
    assert snapshot is not None
    assert stat.S_IMODE(snapshot.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(snapshot.path.parent.stat().st_mode) == 0o700
    verdict = verify_file(snapshot.path, state.load_key().public_key())
    assert verdict.manifest["reason"] == "alert 7: web shell"
    assert verdict.manifest["agent_id"] == agent.service.config.agent_id
    names = [part["name"] for part in verdict.parts]
    assert names[-1] == "errors.json" and "processes.json" in names
    assert "not sent" in (state.load_status().get("last_error") or "")
    assert status_document(state)["evidence_waiting"] == 1
    agent.close()
    # As after a restart: the queue is in spool.db, with nothing confirmed yet.
    with Spool(state.spool_path) as spool:
        [waiting] = spool.uploads()
    assert (waiting.id, waiting.path, waiting.size, waiting.sent) == (
        snapshot.id,
        snapshot.path,
        snapshot.size,
        0,
    )


def test_a_snapshot_in_process_reads_the_host_tree(state: AgentState, tmp_path: Path) -> None:
    """With ``scan_in_process`` the scene is collected in the service itself; the host's files
    come from its ``scan_root`` (here a tree with an auth log), the kernel's from /proc."""
    tree = tmp_path / "tree"
    (tree / "var/log").mkdir(parents=True)
    (tree / "var/log/secure").write_text("sshd[9]: Accepted password for ops\n")
    config = state.load_config()
    config.scan_root = str(tree)
    snapshot = take_snapshot(state, config, None, reason="drill", in_process=True)
    verdict = verify_file(snapshot.path, state.load_key().public_key())
    with tarfile.open(snapshot.path) as tar:
        auth = tar.extractfile("auth-log.txt").read().decode()  # type: ignore[union-attr]
        errors = json.loads(tar.extractfile("errors.json").read())  # type: ignore[union-attr]
    assert "Accepted password for ops" in auth and "/var/log/secure" in auth
    # The tree has no wtmp or crontab: those parts say why they are missing.
    assert errors["logins.json"].startswith("not_applicable:")
    assert "logins.json" not in [part["name"] for part in verdict.parts]
    assert snapshot.errors == errors


def test_a_file_name_that_is_not_utf8_is_kept_exactly(state: AgentState, tmp_path: Path) -> None:
    """Linux file names are bytes: one that is not UTF-8 (a webshell dropped by a tool that
    does not care) once made the whole snapshot fail. It is listed with its exact bytes, and
    the part is still valid JSON."""
    tree = tmp_path / "tree"
    scratch = tree / "tmp"
    scratch.mkdir(parents=True)
    name = b"shell-\xff\xfe.php"
    with open(bytes(scratch) + b"/" + name, "wb") as dropped:
        dropped.write(b"<?php system($_GET['c']); ?>")
    config = state.load_config()
    config.scan_root = str(tree)
    snapshot = take_snapshot(state, config, None, reason="drill", in_process=True)
    verify_file(snapshot.path, state.load_key().public_key())
    with tarfile.open(snapshot.path) as tar:
        raw = tar.extractfile("recent-files.json").read()  # type: ignore[union-attr]
    raw.decode("utf-8")  # valid UTF-8 (strict)
    listed = {os.fsencode(entry["path"]) for entry in json.loads(raw)["files"]}
    assert b"/tmp/" + name in listed


def test_an_evidence_command_delivered_again_after_a_restart_takes_no_second_snapshot(
    state: AgentState, scan: FakeScan, api: ScriptedApi, ca: ThrowawayCA
) -> None:
    """Killed after the snapshot, before the heartbeat that acknowledges it: the server
    delivers the command again, and the archive already queued for it answers it."""
    command = str(uuid.uuid4())
    first = build_service(state, scanner=scan)
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        identity = first.service.transport.identity
        assert identity is not None
        first.service.transport = Transport(
            ServerUrl("127.0.0.1", port, ""), pinned_context(ca.cert_pem), identity
        )
        assert first.service.take_evidence("command", command) is not None
    finally:
        first.close()
    again = build_service(state, scanner=scan)
    try:
        api.commands = [{"id": command, "type": "evidence"}]
        again.service.heartbeat()
        again.service.heartbeat()
    finally:
        again.close()
    assert len(list((state.directory / "evidence").glob("*.tar"))) == 1
    assert command in api.heartbeats[-1]["acked_commands"]
