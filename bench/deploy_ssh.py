"""``xunjian deploy ssh`` timings: a first deployment, a re-run that changes nothing, an upgrade
and an uninstall, to this machine through a real sshd on loopback (as tests/deploy do).

    .venv/bin/python -m bench.deploy_ssh

Run as root on a machine without a xunjian agent installed (it installs into /opt/xunjian and
removes it again). The command runs from a copy of the source tree (as in the tests), so edits
in the working tree during the run do not look like a new version. The first figure includes
building the offline bundle (pip wheel + pip download) and waiting for the agent's first
report, i.e. one full scan of this machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.deploy.conftest import force_clean, installed_paths, make_checkout
from tests.deploy.sshd import make_account, require_tools, start_sshd
from tests.harness import ServerUnderTest
from xunjian.deploy.layout import STAMP

PASSWORD_ENV = "XJ_BENCH_DEPLOY_PASSWORD"


def main() -> int:
    argparse.ArgumentParser(description=__doc__).parse_args()
    require_tools()
    if installed_paths():
        print(f"refusing: {installed_paths()} exist on this machine", file=sys.stderr)
        return 1
    folder = Path(tempfile.mkdtemp(prefix="xj-bench-deploy-"))
    sshd = start_sshd(folder / "sshd")
    account = make_account(sshd.folder)
    server = ServerUnderTest(folder / "server")
    try:
        server.init()
        server.start()
        known_hosts = folder / "known_hosts"
        known_hosts.write_text(sshd.known_hosts_line())
        inventory = folder / "hosts.toml"
        inventory.write_text(
            f'[[host]]\naddress = "127.0.0.1"\nport = {sshd.port}\nuser = "{account.name}"\n'
            f'password_env = "{PASSWORD_ENV}"\nsudo = true\n'
            "[host.agent]\nstart_delay_max_seconds = 0\n"
        )
        words = [sys.executable, "-m", "xunjian.cli", "deploy", "ssh", "--inventory"]
        words += [str(inventory), "--data", str(server.data), "--known-hosts", str(known_hosts)]
        env = {**os.environ, PASSWORD_ENV: account.password}
        checkout = make_checkout(folder / "checkout")

        def timed(label: str, *extra: str) -> None:
            started = time.monotonic()
            done = subprocess.run(
                [*words, *extra],
                env=env,
                cwd=checkout,
                capture_output=True,
                text=True,
                timeout=1800,
                check=False,
            )
            took = time.monotonic() - started
            if done.returncode != 0:
                raise SystemExit(f"{label} failed:\n{done.stdout}\n{done.stderr}")
            print(f"{label:52} {took:6.1f} s")

        print(f"load average before: {os.getloadavg()[0]:.2f}")
        timed("first deploy (bundle build, install, enroll, report)")
        timed("second deploy (nothing changes)")
        timed("third deploy (bundle cached, nothing changes)")
        Path(STAMP).write_text("0.0.1+000000000000\n")
        timed("upgrade (old stamp: reinstall, restart)")
        timed("uninstall", "--uninstall")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        force_clean()
        server.stop()
        account.remove()
        sshd.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
