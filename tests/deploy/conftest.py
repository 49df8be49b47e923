"""Fixtures of the deployment tests: a real sshd, a test account with sudo, and the guarantee
that the machine is left as it was found (the deployment installs into /opt/xunjian,
/var/lib/xunjian/agent and /etc/systemd/system of this machine, which is the "host")."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.sshd import Account, Sshd, make_account, remove_tree, require_tools, start_sshd
from tests.machine import INSTALL, machine_lock
from xunjian.deploy.bundle import source_files
from xunjian.deploy.layout import FALLBACK, INSTALLED_PATHS, PIDFILE, STATE_PARENT, source_root


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source tree for ``xunjian deploy ssh`` to run from: the working tree is
    shared with people editing it, and the bundle's stamp is the digest of its sources, so
    deploying from the live tree would see a new version between two runs."""
    return make_checkout(tmp_path_factory.mktemp("checkout"))


def make_checkout(copy: Path) -> Path:
    """The files a checkout needs for the command: the wheel's sources (the unit among them)."""
    root = source_root()
    for relative in source_files(root):
        (copy / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, copy / relative)
    return copy


@pytest.fixture(scope="session")
def agent_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A xunjian wheel as an admin builds it (``pip wheel --no-deps`` of a checkout), once per
    session; from a copy, so the build leaves nothing in the shared working tree."""
    checkout = make_checkout(tmp_path_factory.mktemp("wheel-checkout"))
    out = tmp_path_factory.mktemp("wheel")
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    done = subprocess.run(
        [*pip_wheel, "--wheel-dir", str(out), str(checkout)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = out.glob("xunjian-*.whl")
    return wheel


@pytest.fixture(scope="session")
def wheel_install(agent_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """xunjian installed from the wheel, without a checkout: the wheel unpacked, which is what
    pip puts in site-packages, for PYTHONPATH (it comes before the venv's editable install).
    The server's dependencies still come from the venv."""
    site = tmp_path_factory.mktemp("wheel-install")
    with zipfile.ZipFile(agent_wheel) as archive:
        archive.extractall(site)
    return site


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    require_tools()
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def account(sshd: Sshd) -> Iterator[Account]:
    made = make_account(sshd.folder)
    try:
        yield made
    finally:
        made.remove()


def installed_paths() -> list[str]:
    return [path for path in INSTALLED_PATHS if Path(path).exists()]


def force_clean() -> None:
    """Whatever a failed test left: stop a fallback-started agent, remove every install path."""
    if Path(FALLBACK).exists():
        subprocess.run([FALLBACK, "stop"], check=False, timeout=60, capture_output=True)
    pid = Path(PIDFILE)
    if pid.exists():
        subprocess.run(["kill", "-KILL", pid.read_text().strip()], check=False, timeout=30)
    for path in INSTALLED_PATHS:
        remove_tree(Path(path))
    if Path(STATE_PARENT).is_dir() and not any(Path(STATE_PARENT).iterdir()):
        Path(STATE_PARENT).rmdir()


@pytest.fixture
def clean_host() -> Iterator[None]:
    """Refuses to run over an existing install (it is not the test's to remove); cleans up
    after itself even when the test failed half-way.

    The install paths are the product's own, the same for every test: the tests that install
    (or prove nothing was installed) take turns under a lock held for the test, across
    pytest-xdist workers and test runs (tests/machine.py ``INSTALL``)."""
    with machine_lock(INSTALL):
        found = installed_paths()
        if found:
            raise AssertionError(
                f"this machine already has {found}: a deployment test would overwrite it. "
                "Remove them (or run `xunjian deploy ssh --uninstall`) first."
            )
        try:
            yield
        finally:
            leftovers = installed_paths()
            force_clean()
            assert not leftovers, f"the test left {leftovers} behind (removed now)"
