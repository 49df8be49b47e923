"""What the end-to-end deployment tests share: the command as an admin runs it, the inventory
of the one test host, and what they read back from the database and the machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy

from tests.deploy.sshd import Account, Sshd
from xunjian.deploy.layout import FALLBACK, PIDFILE, STAMP, STATE_DIR, UNIT_PATH

PASSWORD_ENV = "XJ_TEST_DEPLOY_PASSWORD"


def deploy(
    cwd: Path,
    data: Path,
    inventory: Path,
    known_hosts: Path,
    password: str,
    *extra: str,
    pythonpath: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The command as an admin runs it: ``python -m`` in ``cwd`` (a checkout puts itself first
    on the path); ``pythonpath`` puts an unpacked wheel first instead, as an install from it."""
    env = {**os.environ, PASSWORD_ENV: password}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
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
        cwd=cwd,
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


def scan_known_hosts(path: Path, sshd: Sshd) -> None:
    """The test sshd's key, as docs/deploy.md collects it (ssh-keyscan)."""
    scanned = subprocess.run(
        ["ssh-keyscan", "-t", "ed25519", "-p", str(sshd.port), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    path.write_text(scanned)


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
