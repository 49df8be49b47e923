"""`xunjian agent run` and `xunjian agent status` as real processes against a real HTTPS server
on 127.0.0.1, with the real check library scanning an (empty) host tree."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.enroll import enroll
from agent.state import AgentState
from tests.agent.agent_testkit import LoopbackServer, ScriptedApi, ThrowawayCA, act_at_once
from xunjian.core.wire import certificate_sha256

XUNJIAN = [sys.executable, "-m", "xunjian.cli"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env["XUNJIAN_LOG_LEVEL"] = "INFO"
    return env


def _wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[str]) -> None:
    # A generous deadline only to fail instead of hanging; nothing here measures speed.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if condition():
            return
        if process.poll() is not None:
            raise AssertionError(f"agent exited {process.returncode} waiting for {what}")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def enrolled(
    server: LoopbackServer, api: ScriptedApi, ca: ThrowawayCA, tmp_path: Path
) -> tuple[LoopbackServer, ScriptedApi, AgentState]:
    state_dir = tmp_path / "state"
    enroll(state_dir, server.url, "tok-123", certificate_sha256(ca.cert_pem))
    host_tree = tmp_path / "host"
    host_tree.mkdir()
    state = AgentState(state_dir)
    # The documented way to make `agent run` act at once in tests.
    act_at_once(state, heartbeat_interval_seconds=0.5, scan_root=str(host_tree))
    return server, api, state


def _status(state: AgentState) -> tuple[int, dict]:
    done = subprocess.run(
        [*XUNJIAN, "agent", "status", "--state", str(state.directory), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    return done.returncode, json.loads(done.stdout)


def test_agent_run_reports_obeys_scan_now_and_stops_cleanly_on_sigterm(
    enrolled: tuple[LoopbackServer, ScriptedApi, AgentState],
) -> None:
    _, api, state = enrolled
    process = subprocess.Popen(
        [*XUNJIAN, "agent", "run", "--state", str(state.directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        _wait_for(lambda: len(api.reports) >= 1, "the first report", process)
        _wait_for(lambda: len(api.heartbeats) >= 1, "a heartbeat", process)
        api.commands = [{"id": str(uuid.uuid4()), "type": "scan_now"}]
        _wait_for(lambda: len(api.reports) >= 2, "the scan_now report", process)
        _wait_for(lambda: bool(api.acked), "the command's acknowledgement", process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert "stopped" in stderr
    assert "Traceback" not in stderr
    assert api.signature_failures == []
    # Every report the real check library produced passes the contract the server decodes with.
    from xunjian.core.contract.bodies import Heartbeat, Report
    from xunjian.core.schema import convert

    for report in api.reports:
        convert(report, Report)
    for beat in api.heartbeats:
        convert(beat, Heartbeat)
    assert [r["seq"] for r in api.reports] == list(range(1, len(api.reports) + 1))
    assert api.reports[0]["results"], "the real scan produced no results"

    code, document = _status(state)
    assert code == 0
    assert document["enrolled"] is True
    assert document["agent_id"] == api.agent_id
    assert document["spool_depth"] == 0
    assert document["last_report_at"]
    assert document["last_seq"] == len(api.reports)


def test_agent_run_refuses_a_second_instance_on_one_state_folder(
    enrolled: tuple[LoopbackServer, ScriptedApi, AgentState],
) -> None:
    _, api, state = enrolled
    first = subprocess.Popen(
        [*XUNJIAN, "agent", "run", "--state", str(state.directory)],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        _wait_for(lambda: len(api.heartbeats) >= 1, "the first agent", first)
        second = subprocess.run(
            [*XUNJIAN, "agent", "run", "--state", str(state.directory)],
            capture_output=True,
            text=True,
            timeout=60,
            env=_env(),
        )
        assert second.returncode == 1
        assert "another `xunjian agent run`" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        try:
            first.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            first.kill()
            first.wait()
    assert first.returncode == 0


def test_status_of_an_unenrolled_state_exits_1(tmp_path: Path) -> None:
    done = subprocess.run(
        [*XUNJIAN, "agent", "status", "--state", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 1
    assert "not enrolled" in done.stdout
    assert not (tmp_path / "none").exists()


def test_agent_run_without_enrollment_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [*XUNJIAN, "agent", "run", "--state", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 1
    assert "not enrolled" in done.stderr
