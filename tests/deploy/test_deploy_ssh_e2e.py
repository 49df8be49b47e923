"""``xunjian deploy ssh`` end to end: a real server, a real sshd on loopback, a test account
that logs in with a password and becomes root with sudo (password on stdin), the offline
bundle installed into /opt/xunjian/venv on this machine, the agent enrolled, started (this
machine runs no systemd: the fallback starter, after ``systemd-analyze verify`` of the unit)
and its first report stored. Then: a second run changes nothing, an old stamp is upgraded,
and ``--uninstall`` removes everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from tests.deploy.conftest import installed_paths
from tests.deploy.sshd import Account, Sshd
from tests.harness import ServerUnderTest
from xunjian.deploy.layout import FALLBACK, PIDFILE, STAMP, STATE_DIR, UNIT_PATH

PASSWORD_ENV = "XJ_TEST_DEPLOY_PASSWORD"
pytestmark = pytest.mark.integration


def deploy(
    checkout: Path, data: Path, inventory: Path, known_hosts: Path, password: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """The command as an admin runs it, from a checkout (``python -m`` puts it first)."""
    env = {**os.environ, PASSWORD_ENV: password}
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
            *extra,
        ],
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )


def write_inventory(path: Path, sshd: Sshd, account: Account) -> None:
    path.write_text(
        f"""
[[host]]
name = "lab-pc-1"
address = "127.0.0.1"
port = {sshd.port}
user = "{account.name}"
password_env = "{PASSWORD_ENV}"
sudo = true
group = "lab-301"

[host.agent]
start_delay_max_seconds = 0
scan_interval_seconds = 30
heartbeat_interval_seconds = 2
flush_interval_seconds = 1
backoff_base_seconds = 0.5
backoff_cap_seconds = 2
"""
    )


def counts(engine: sqlalchemy.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: connection.execute(sqlalchemy.text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("agents", "enrollment_tokens", "reports")
        }


def deploy_entries(engine: sqlalchemy.Engine) -> list[tuple[str, str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text(
                "SELECT action, outcome, target, details FROM oplog_entries "
                "WHERE action LIKE 'deploy.%' ORDER BY seq"
            )
        ).all()
    return [tuple(row) for row in rows]


def fallback_pid() -> int:
    return int(Path(PIDFILE).read_text().strip())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def mtimes() -> dict[str, int]:
    return {path: Path(path).stat().st_mtime_ns for path in (UNIT_PATH, STAMP, FALLBACK)} | {
        "agent.json": Path(STATE_DIR, "agent.json").stat().st_mtime_ns
    }


def test_deploy_again_upgrade_uninstall(
    checkout: Path,
    sshd: Sshd,
    account: Account,
    clean_host: None,
    database_url: str,
    tmp_path: Path,
) -> None:
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init()
    server.set_config(heartbeat_interval_seconds=2)
    server.start()
    engine = sqlalchemy.create_engine(database_url)
    inventory = tmp_path / "hosts.toml"
    write_inventory(inventory, sshd, account)
    known_hosts = tmp_path / "known_hosts"
    scanned = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", "-p", str(sshd.port), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    known_hosts.write_text(scanned)
    uninstalled = False
    try:
        # 1. A full deployment.
        first = deploy(checkout, server.data, inventory, known_hosts, account.password)
        output = first.stdout + first.stderr
        assert first.returncode == 0, output + sshd.log()[-3000:]
        assert "installed " in output, output
        assert "enrolled as " in output, output
        assert "no running systemd" in output, output
        assert "verified" in output, output
        assert "agent started (fallback)" in output, output
        assert account.password not in output, output
        pid = fallback_pid()
        assert alive(pid)
        config = json.loads(Path(STATE_DIR, "agent.json").read_text())
        assert config["start_delay_max_seconds"] == 0
        assert config["server_url"] == server.url
        agent_id = config["agent_id"]
        after_first = counts(engine)
        assert after_first["agents"] == 1
        assert after_first["reports"] >= 1
        with engine.connect() as connection:
            group = connection.execute(
                sqlalchemy.text(
                    "SELECT g.name FROM agents a JOIN groups g ON g.id = a.group_id "
                    "WHERE a.id = :id"
                ),
                {"id": agent_id},
            ).scalar_one()
        assert group == "lab-301"
        assert (Path(STATE_DIR).stat().st_mode & 0o777) == 0o700
        assert (Path(STATE_DIR, "key.pem").stat().st_mode & 0o777) == 0o600

        # 2. Again: nothing changes, the agent keeps running, no token is made.
        before = mtimes()
        second = deploy(checkout, server.data, inventory, known_hosts, account.password)
        output = second.stdout + second.stderr
        assert second.returncode == 0, output
        assert "up to date, nothing changed" in output, output
        assert "1 ok (0 changed, 1 up to date)" in output, output
        assert fallback_pid() == pid and alive(pid)
        assert mtimes() == before
        again = counts(engine)
        assert (again["agents"], again["enrollment_tokens"]) == (
            after_first["agents"],
            after_first["enrollment_tokens"],
        )

        # A host enrolled with this server is not re-enrolled to another one.
        other = deploy(
            checkout,
            server.data,
            inventory,
            known_hosts,
            account.password,
            "--server-url",
            "https://127.0.0.1:9",
        )
        output = other.stdout + other.stderr
        assert other.returncode == 1, output
        assert "FAILED: enroll" in output and "enrolled with another server" in output, output
        assert fallback_pid() == pid and alive(pid)
        assert mtimes() == before

        # 3. An old install is upgraded in place; the identity stays.
        Path(STAMP).write_text("0.0.1+000000000000\n")
        third = deploy(checkout, server.data, inventory, known_hosts, account.password)
        output = third.stdout + third.stderr
        assert third.returncode == 0, output
        assert "upgraded 0.0.1+000000000000 -> " in output, output
        assert "agent restarted (fallback)" in output, output
        assert json.loads(Path(STATE_DIR, "agent.json").read_text())["agent_id"] == agent_id
        assert not alive(pid)
        assert alive(fallback_pid())
        assert Path(STAMP).read_text().strip() != "0.0.1+000000000000"

        # 4. Uninstall removes everything and revokes the identity.
        running = fallback_pid()
        fourth = deploy(
            checkout, server.data, inventory, known_hosts, account.password, "--uninstall"
        )
        output = fourth.stdout + fourth.stderr
        uninstalled = fourth.returncode == 0
        assert fourth.returncode == 0, output
        assert installed_paths() == []
        assert not Path("/var/lib/xunjian").exists()
        assert not alive(running)
        assert f"agent {agent_id} revoked on the server" in output, output
        with engine.connect() as connection:
            revoked = connection.execute(
                sqlalchemy.text("SELECT revoked_at FROM agents WHERE id = :id"), {"id": agent_id}
            ).scalar_one()
        assert revoked is not None

        entries = deploy_entries(engine)
        assert [(action, outcome) for action, outcome, _, _ in entries] == [
            ("deploy.ssh", "ok"),
            ("deploy.ssh", "ok"),
            ("deploy.ssh", "error"),
            ("deploy.ssh", "ok"),
            ("deploy.ssh.uninstall", "ok"),
        ]
        assert all(target == f"host:127.0.0.1:{sshd.port}" for _, _, target, _ in entries)
        assert json.loads(entries[1][3])["changes"] == []
        assert account.password not in server.log()
    finally:
        if not uninstalled:
            deploy(checkout, server.data, inventory, known_hosts, account.password, "--uninstall")
        engine.dispose()
        server.stop()
