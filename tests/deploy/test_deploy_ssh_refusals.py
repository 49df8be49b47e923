"""Hosts that must be refused, each with its reason, against the same real sshd (listening on
127.0.0.1..5): a changed host key, an unknown one, a wrong password, sudo refused, no sudo, no
SSH server. Nothing may be installed on any of them, the run exits 1, and each failure is in
the summary and the operation log. Trust on first use records an unknown key, never a changed
one.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import installed_paths
from tests.deploy.sshd import Account, Sshd, keygen
from tests.harness import ServerUnderTest, free_port

pytestmark = pytest.mark.integration
WRONG = "XJ_TEST_WRONG_PASSWORD"


@pytest.fixture(scope="module")
def server_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised data folder (not running: every host fails before enrollment)."""
    server = ServerUnderTest(tmp_path_factory.mktemp("refusals") / "server")
    server.init()
    return server.data


def run_deploy(
    checkout: Path, data: Path, inventory: Path, known_hosts: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "xunjian.cli",
            "deploy",
            "ssh",
            "--inventory",
            str(inventory),
            "--data",
            str(data),
            "--known-hosts",
            str(known_hosts),
            "--parallel",
            "3",
            *extra,
        ],
        env={**os.environ, WRONG: "not-the-password"},
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def host_table(address: str, port: int, user: str, **keys: object) -> str:
    lines = ["[[host]]", f'address = "{address}"', f"port = {port}", f'user = "{user}"']
    for key, value in keys.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n\n"


def summary_reasons(output: str) -> dict[str, str]:
    """HOST -> RESULT from the summary table."""
    found = {}
    for line in output.splitlines():
        if line.startswith("127.0.0."):
            host, result = line.split("  ", 1)
            found[host.strip()] = result.strip().split("  ")[0]
    return found


def oplog(data: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(data / "xunjian.sqlite3") as connection:
        return connection.execute(
            "SELECT target, outcome, reason FROM oplog_entries WHERE action = 'deploy.ssh' "
            "ORDER BY seq"
        ).fetchall()


def test_each_refusal_has_its_reason_and_installs_nothing(
    checkout: Path,
    sshd: Sshd,
    account: Account,
    server_data: Path,
    clean_host: None,
    tmp_path: Path,
) -> None:
    port, closed = sshd.port, free_port()
    other_key = keygen(tmp_path / "not_the_host_key").split()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(
        sshd.known_hosts_line("127.0.0.1")
        + sshd.known_hosts_line("127.0.0.2")
        + sshd.known_hosts_line("127.0.0.3")
        + f"[127.0.0.4]:{port} {other_key[0]} {other_key[1]}\n"
    )
    pinned = known_hosts.read_text()
    inventory = tmp_path / "hosts.toml"
    inventory.write_text(
        host_table("127.0.0.1", closed, account.name, key=str(account.key), sudo=True)
        + host_table("127.0.0.1", port, account.name, password_env=WRONG, sudo=True)
        + host_table(
            "127.0.0.2",
            port,
            account.name,
            key=str(account.key),
            sudo=True,
            sudo_password_env=WRONG,
        )
        + host_table("127.0.0.3", port, account.name, key=str(account.key), sudo=False)
        + host_table("127.0.0.4", port, account.name, key=str(account.key), sudo=True)
        + host_table("127.0.0.5", port, account.name, key=str(account.key), sudo=True)
    )
    done = run_deploy(checkout, server_data, inventory, known_hosts)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert summary_reasons(output) == {
        f"127.0.0.1:{closed}": "FAILED: unreachable",
        f"127.0.0.1:{port}": "FAILED: authentication",
        f"127.0.0.2:{port}": "FAILED: sudo",
        f"127.0.0.3:{port}": "FAILED: sudo",
        f"127.0.0.4:{port}": "FAILED: host key mismatch",
        f"127.0.0.5:{port}": "FAILED: host key unknown",
    }, output
    assert "6 failed" in output, output
    assert "Nothing was done on it" in output, output
    assert "not-the-password" not in output
    assert installed_paths() == []
    assert known_hosts.read_text() == pinned
    entries = oplog(server_data)
    assert len(entries) == 6
    assert {outcome for _, outcome, _ in entries} == {"error"}
    assert any(
        target == f"host:127.0.0.4:{port}" and reason.startswith("host key mismatch")
        for target, _, reason in entries
    )


def test_first_use_records_an_unknown_key_but_never_a_changed_one(
    checkout: Path,
    sshd: Sshd,
    account: Account,
    server_data: Path,
    clean_host: None,
    tmp_path: Path,
) -> None:
    port = sshd.port
    other_key = keygen(tmp_path / "not_the_host_key").split()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[127.0.0.4]:{port} {other_key[0]} {other_key[1]}\n")
    inventory = tmp_path / "hosts.toml"
    # Wrong passwords: the run stops at login, after the host key step under test.
    inventory.write_text(
        host_table("127.0.0.4", port, account.name, password_env=WRONG)
        + host_table("127.0.0.5", port, account.name, password_env=WRONG)
    )
    done = run_deploy(checkout, server_data, inventory, known_hosts, "--trust-on-first-use")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert summary_reasons(output) == {
        f"127.0.0.4:{port}": "FAILED: host key mismatch",
        f"127.0.0.5:{port}": "FAILED: authentication",
    }, output
    fingerprint = subprocess.run(
        ["ssh-keygen", "-lf", str(sshd.folder / "ssh_host_ed25519_key.pub")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.split()[1]
    assert f"host key recorded on first use: ssh-ed25519 {fingerprint}" in output, output
    lines = known_hosts.read_text().splitlines()
    assert lines == [
        f"[127.0.0.4]:{port} {other_key[0]} {other_key[1]}",
        sshd.known_hosts_line("127.0.0.5").strip(),
    ]
    # Pinned now: without the flag the host is known (and fails only at the password).
    again = run_deploy(checkout, server_data, inventory, known_hosts)
    assert summary_reasons(again.stdout)[f"127.0.0.5:{port}"] == "FAILED: authentication"
    assert known_hosts.read_text().splitlines() == lines
    assert installed_paths() == []
