"""Scans in a child process: the real check library through ``agent.scan_worker``, and each way
a child can fail turning into a :class:`ScanFailed`, never into a stuck or dead service."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent import scanning
from agent.scanning import ScanFailed, in_process_scanner, subprocess_scanner


def test_the_child_gives_what_the_library_gives_in_process(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n"
    )
    policy = {"accounts.uid0_extra": {"enabled": True, "params": {}}}
    child_results, child_inventory = subprocess_scanner(tmp_path, timeout=120)(policy)
    own_results, own_inventory = in_process_scanner(tmp_path)(policy)
    assert child_results == own_results
    assert child_inventory == own_inventory
    by_id = {r["check_id"]: r for r in child_results}
    assert by_id["accounts.uid0_extra"]["status"] == "fail"
    # The inventory carries the account names the server keeps as the host's baseline.
    assert child_inventory is not None
    assert child_inventory["baseline"]["accounts"] == ["root", "toor"]


def test_a_disabled_check_stays_off_in_the_child(tmp_path: Path) -> None:
    results, _ = subprocess_scanner(tmp_path, timeout=120)(
        {"accounts.uid0_extra": {"enabled": False, "params": {}}}
    )
    assert "accounts.uid0_extra" not in {r["check_id"] for r in results}


def _fake_python(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-python"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.skipif(os.name == "nt", reason="shell scripts")
@pytest.mark.parametrize(
    ("body", "timeout", "message"),
    [
        ("exec sleep 60", 0.5, "did not finish"),
        ("echo 'Traceback:' >&2; echo 'ValueError: boom' >&2; exit 3", 30, "exited 3: Value"),
        ("echo 'not json'", 30, "unreadable"),
        ('echo \'{"results": {}, "inventory": null}\'', 30, "wrong shape"),
    ],
)
def test_a_misbehaving_child_is_a_scan_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, timeout: float, message: str
) -> None:
    monkeypatch.setattr(scanning.sys, "executable", _fake_python(tmp_path, body))
    with pytest.raises(ScanFailed, match=message):
        subprocess_scanner(None, timeout=timeout)(None)


def test_the_idle_service_holds_neither_the_check_library_nor_key_serialization(
    tmp_path: Path,
) -> None:
    # Memory is measured by hand (see the agent's report); what is imported is checked here.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.state import AgentConfig, AgentState
    from tests.agent.agent_testkit import make_ca

    state = AgentState(tmp_path / "state")
    state.write_identity(
        AgentConfig("https://127.0.0.1:1", "a-1", "g", "0" * 64, "2026-01-01T00:00:00Z"),
        Ed25519PrivateKey.generate(),
        make_ca().cert_pem,
    )
    probe = (
        "import sys, json\n"
        "from agent.service import build_service\n"
        "from agent.state import AgentState\n"
        "build_service(AgentState(__import__('pathlib').Path(sys.argv[1])))\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(state.directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set(json.loads(done.stdout))
    assert "agent.runner" in modules
    assert not {m for m in modules if m == "checks" or m.startswith("checks.")}
    assert "cryptography.hazmat.primitives.serialization" not in modules
    assert "cryptography.x509" not in modules


@pytest.mark.skipif(os.name == "nt", reason="shell scripts")
def test_cancel_ends_a_running_scan_and_its_children(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    marker = tmp_path / "grandchild.pid"
    # The worker starts a command of its own, as collectors do, then hangs.
    body = f"sleep 300 & echo $! > {marker}; wait"
    monkeypatch.setattr(scanning.sys, "executable", _fake_python(tmp_path, body))
    scanner = subprocess_scanner(None, timeout=600)
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            scanner(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    scanner.cancel()
    thread.join(timeout=60)
    assert not thread.is_alive(), "cancel did not end the scan"
    assert isinstance(outcome[0], ScanFailed)
    assert "stopping" in str(outcome[0])
    grandchild = int(marker.read_text())
    # Reaped by nobody but gone from the process table, or a zombie at most. A process killed
    # a moment ago may still be scheduled once before it dies (seen under xdist's load), so it
    # gets a bounded while to go; a survivor of the kill fails as before.
    status = Path(f"/proc/{grandchild}/status")

    def still_running() -> bool:
        try:
            return "zombie" not in status.read_text()
        except FileNotFoundError:
            return False

    gone_by = time.monotonic() + 10
    while still_running() and time.monotonic() < gone_by:
        time.sleep(0.05)
    assert not still_running(), status.read_text()
    with pytest.raises(ScanFailed, match="stopping"):
        scanner(None)
