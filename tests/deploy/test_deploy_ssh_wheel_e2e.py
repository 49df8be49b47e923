"""``xunjian deploy ssh --wheel`` end to end, from a server installed from a wheel (no checkout:
the wheel unpacked first on PYTHONPATH, the command run in an empty folder), to the real sshd of
tests/deploy: the agent installed is that wheel, it reports, and a second run with the same
wheel changes nothing. ``--uninstall`` needs neither a checkout nor the wheel.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from tests.deploy.conftest import installed_paths
from tests.deploy.helpers import (
    alive,
    counts,
    deploy,
    deploy_entries,
    fallback_pid,
    mtimes,
    scan_known_hosts,
    write_inventory,
)
from tests.deploy.sshd import Account, Sshd
from tests.harness import ServerUnderTest
from xunjian.deploy.layout import STAMP, VENV
from xunjian.deploy.wheel import read_wheel

pytestmark = pytest.mark.integration


def test_deploy_from_a_wheel_then_nothing_to_do(
    agent_wheel: Path,
    wheel_install: Path,
    sshd: Sshd,
    account: Account,
    clean_host: None,
    database_url: str,
    tmp_path: Path,
    data_folder_templates: object,
) -> None:
    admin = tmp_path / "admin"  # the admin's working folder: no checkout anywhere near
    admin.mkdir()
    which = subprocess.run(
        [sys.executable, "-c", "import xunjian.deploy.layout as l; print(l.checkout_root())"],
        env={**os.environ, "PYTHONPATH": str(wheel_install)},
        cwd=admin,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert which.stdout.strip() == "None", which.stdout + which.stderr
    stamp = read_wheel(agent_wheel).stamp

    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    server.set_config(heartbeat_interval_seconds=2)
    server.start()
    engine = sqlalchemy.create_engine(database_url)
    inventory = tmp_path / "hosts.toml"
    write_inventory(inventory, sshd, account)
    known_hosts = tmp_path / "known_hosts"
    scan_known_hosts(known_hosts, sshd)
    uninstalled = False

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return deploy(
            admin,
            server.data,
            inventory,
            known_hosts,
            account.password,
            *extra,
            pythonpath=wheel_install,
        )

    try:
        first = run("--wheel", str(agent_wheel))
        output = first.stdout + first.stderr
        assert first.returncode == 0, output + sshd.log()[-3000:]
        assert f"deploying xunjian {stamp} (from the wheel {agent_wheel})" in output, output
        assert f"installed {stamp}" in output, output
        assert "1 ok (1 changed, 0 up to date)" in output, output
        assert Path(STAMP).read_text().strip() == stamp
        installed = subprocess.run(
            [f"{VENV}/bin/xunjian", "--version"], capture_output=True, text=True, timeout=60
        )
        assert installed.returncode == 0, installed.stderr
        assert read_wheel(agent_wheel).version in installed.stdout
        assert counts(engine)["reports"] >= 1  # the command waited for the agent's first report
        pid = fallback_pid()
        before, tokens = mtimes(), counts(engine)["enrollment_tokens"]

        again = run("--wheel", str(agent_wheel))
        output = again.stdout + again.stderr
        assert again.returncode == 0, output
        assert "up to date, nothing changed" in output, output
        assert "uploading" not in output, output
        assert mtimes() == before
        assert fallback_pid() == pid and alive(pid)
        assert counts(engine)["enrollment_tokens"] == tokens

        gone = run("--uninstall")
        uninstalled = gone.returncode == 0
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert installed_paths() == []
        assert [(action, outcome) for action, outcome, _, _ in deploy_entries(engine)] == [
            ("deploy.ssh", "ok"),
            ("deploy.ssh", "ok"),
            ("deploy.ssh.uninstall", "ok"),
        ]
    finally:
        if not uninstalled:
            run("--uninstall")
        engine.dispose()
        server.stop()
