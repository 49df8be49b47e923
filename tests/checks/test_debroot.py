"""`xunjian scan --root` on a real Debian 12 root made faulty by hand (issue 12).

The root is debootstrap's (tests/checks/debroot.py, cached; built when missing). It is scanned
once as installed, then the usual mistakes are made in it with the real tools in chroot
(debroot_faults.py), and scanned again: the new failures must be exactly the planted ones.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from checks.api import collect_baseline, run_scan
from checks.collectors.linux.apt_lists import pending_from_lists
from checks.collectors.linux.packages import collect_packages
from checks.collectors.linux.system import parse_apt_simulation
from checks.host import HostContext
from checks.registry import REGISTRY
from tests.checks.debroot import DebrootUnavailable, unpack
from tests.checks.debroot_faults import harden_pam, plant
from tests.checks.scan_helpers import failures, scan_json

# What a school's policy says: only root administers this server.
POLICY = {"accounts.admin_members": {"params": {"approved_admins": ["root"]}}}


def scan_only(root: Path, *check_ids: str) -> set[tuple[str, str, str]]:
    """(check id, status, resource) of a scan of root that runs only the named checks."""
    policy = {c: {"enabled": False} for c in REGISTRY if c not in check_ids}
    return {(r["check_id"], r["status"], r["resource"]) for r in run_scan(policy, root=root)}


@contextmanager
def restored(root: Path, *paths: str) -> Iterator[None]:
    """Put the root's files (and folders) back as they were once the block ends."""
    keep = Path(tempfile.mkdtemp(prefix="xunjian-debroot-keep-"))
    try:
        for number, path in enumerate(paths):
            subprocess.run(["cp", "-a", str(root / path), str(keep / str(number))], check=True)
        yield
    finally:
        for number, path in enumerate(paths):
            subprocess.run(["rm", "-rf", str(root / path)], check=True)
            subprocess.run(["cp", "-a", str(keep / str(number)), str(root / path)], check=True)
        shutil.rmtree(keep, ignore_errors=True)


@dataclass
class RealRoot:
    root: Path
    stock: list[dict[str, Any]]  # results of the root as debootstrap left it
    stock_apt_pending: set[tuple[str, str, bool]]  # what apt-get -s says, before the faults
    stock_packages: list[str]  # the baseline a server would record before the faults
    faulty: list[dict[str, Any]]
    planted: set[tuple[str, str]]


@pytest.fixture(scope="module")
def real_root() -> Iterator[RealRoot]:
    if os.geteuid() != 0:
        pytest.fail("the Debian root is unpacked and changed in chroot: run as root")
    # World-traversable, like the other trees, and on the same disk as the cache.
    top = Path(tempfile.mkdtemp(prefix="xunjian-debroot-"))
    try:
        try:
            root = unpack(top / "root")
        except DebrootUnavailable as exc:
            pytest.fail(str(exc))
        stock = run_scan(POLICY, root=root)
        simulated = subprocess.run(
            [
                "chroot",
                str(root),
                "apt-get",
                "-s",
                "-q",
                "-o",
                "Debug::NoLocking=1",
                "dist-upgrade",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
        )
        assert simulated.returncode == 0, simulated.stderr
        apt_pending = {
            (u.package, u.new_version, u.is_security)
            for u in parse_apt_simulation(simulated.stdout)
        }
        stock_packages = collect_baseline(root)["packages"]
        planted, policy = plant(root)
        # The server's baseline is the root as installed: what apt-get added must show, once
        # per package installed on purpose.
        policy["software.baseline"] = {"params": {"baseline": stock_packages}}
        planted |= {
            ("software.baseline", f"package:{name}")
            for name in ("ctorrent", "sl", "rsyslog", "logrotate")
        }
        faulty = run_scan({**POLICY, **policy}, root=root)
        yield RealRoot(root, stock, apt_pending, stock_packages, faulty, planted)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_scan_finds_exactly_what_was_planted(real_root: RealRoot) -> None:
    new = failures(real_root.faulty) - failures(real_root.stock)
    assert new == real_root.planted
    # A planted fault is never hidden behind an error of the check meant to find it.
    errors = {(r["check_id"], r["resource"]) for r in real_root.faulty if r["status"] == "error"}
    assert not errors & real_root.planted


def test_pending_updates_from_files_match_apt(real_root: RealRoot) -> None:
    # The lists in the cache are newer than debootstrap's packages only when a point release
    # or a security fix came after it; bookworm has had both, so there is something to find.
    assert real_root.stock_apt_pending, "apt-get -s found nothing pending in the cached root"
    updates, sources = pending_from_lists(HostContext.tree(real_root.root))
    from_files = {(u.package, u.new_version, u.is_security) for u in updates}
    assert from_files == real_root.stock_apt_pending
    assert any(s.is_security for s in sources)
    security = [r for r in real_root.stock if r["check_id"] == "patch.security_pending"]
    count = sum(1 for _, _, is_security in from_files if is_security)
    if count:
        assert [(r["status"], r["evidence"]["count"]) for r in security] == [("fail", count)]


def test_a_root_without_a_security_source_fails(real_root: RealRoot, tmp_path: Path) -> None:
    lists = real_root.root / "var/lib/apt/lists"
    moved = tmp_path / "security-lists"
    moved.mkdir()
    for path in lists.glob("*security*"):
        shutil.move(path, moved / path.name)
    try:
        _, results = scan_json(real_root.root)
    finally:
        for path in moved.iterdir():
            shutil.move(path, lists / path.name)
    assert ("patch.security_pending", "apt:sources") in failures(results)


def test_apt_auto_marks_are_read_as_apt_mark_shows_them(real_root: RealRoot) -> None:
    shown = subprocess.run(
        ["chroot", str(real_root.root), "apt-mark", "showauto"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
    )
    packages = collect_packages(HostContext.tree(real_root.root))
    assert {p.name for p in packages if p.auto_installed} == set(shown.stdout.split())
    by_name = {p.name: p for p in packages}
    assert not by_name["ctorrent"].auto_installed and "libc6" in by_name["ctorrent"].depends


def test_baseline_folds_what_apt_pulled_in(real_root: RealRoot) -> None:
    rows = {
        r["resource"]: r["evidence"]["dependencies"]
        for r in real_root.faulty
        if r["check_id"] == "software.baseline" and r["status"] == "fail"
    }
    packages = collect_packages(HostContext.tree(real_root.root))
    added_auto = {p.name for p in packages if p.auto_installed} - set(real_root.stock_packages)
    assert added_auto, "apt-get install of the game pulled in no new library"
    # One row per package installed on purpose; what apt pulled in is folded under them.
    assert set(rows) == {f"package:{n}" for n in ("ctorrent", "sl", "rsyslog", "logrotate")}
    assert {d for deps in rows.values() for d in deps} == added_auto


def test_minbase_root_has_no_time_service_until_one_is_installed(real_root: RealRoot) -> None:
    # debootstrap's minbase installs no time service; the check must say so on the stock root.
    stock = {(r["check_id"], r["status"]) for r in real_root.stock}
    assert ("network.time_sync", "fail") in stock
    # Nor AppArmor: minbase leaves the apparmor package out.
    assert ("system.mandatory_access_control", "fail") in stock
    # Nor a syslog daemon or journald: every log is lost; rsyslog, once installed, keeps them.
    assert ("logs.persistent", "fail") in stock
    assert ("logs.persistent", "pass") in {(r["check_id"], r["status"]) for r in real_root.faulty}


def test_stock_setid_programs_are_the_distributions(real_root: RealRoot) -> None:
    # Every set-id program debootstrap installed is on the list, and a package ships it.
    setid = [r for r in real_root.stock if r["check_id"] == "files.setid_programs"]
    assert [r["status"] for r in setid] == ["pass"]
    assert "/usr/bin/su" in setid[0]["evidence"]["programs"]


def test_lockout_and_password_history_as_pam_auth_update_writes_them(real_root: RealRoot) -> None:
    checks = ("password.lockout", "password.history")
    # Debian's stock stacks: no pam_faillock, no pam_pwhistory.
    stock = {(c, s, r) for c, s, r in scan_only(real_root.root, *checks)}
    assert stock == {
        ("password.lockout", "fail", "policy:lockout"),
        ("password.history", "fail", "policy:history"),
    }
    with restored(
        real_root.root, "etc/pam.d", "etc/security", "usr/share/pam-configs", "var/lib/pam"
    ):
        harden_pam(real_root.root, deny=5)
        assert scan_only(real_root.root, *checks) == {
            ("password.lockout", "pass", "policy:lockout"),
            ("password.history", "pass", "policy:history"),
        }
        # Twenty tries before a lockout is guessing by another name.
        harden_pam(real_root.root, deny=20)
        assert ("password.lockout", "fail", "policy:lockout") in scan_only(real_root.root, *checks)


def test_unused_accounts_read_from_the_roots_own_wtmp(real_root: RealRoot) -> None:
    unused = {
        r["resource"]: r
        for r in real_root.faulty
        if r["check_id"] == "accounts.unused" and r["status"] == "fail"
    }
    assert "never logged in" in unused["user:former"]["message"]
    # The record utmpdump -r wrote in chroot, read back through the root.
    assert unused["user:intern"]["evidence"]["idle_days"] in (199, 200)
    # Accounts made today that never logged in are not yet unused.
    assert "user:teacher" not in unused and "user:lab" not in unused


def test_a_server_without_a_desktop_has_no_screen_lock_to_judge(real_root: RealRoot) -> None:
    for results in (real_root.stock, real_root.faulty):
        desktop = {
            (r["check_id"], r["status"])
            for r in results
            if r["check_id"] in ("services.screen_lock", "services.media_automount")
        }
        assert desktop == {
            ("services.screen_lock", "not_applicable"),
            ("services.media_automount", "not_applicable"),
        }
