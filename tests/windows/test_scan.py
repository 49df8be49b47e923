"""``xunjian scan --root`` on a mounted Windows volume: the planted faulty PC gets exactly its
planted faults, its clean twin none, through the real command and the one check registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from checks.host import HostContext
from tests.windows.volumes import build_windows_volume

PLANTED = {
    ("accounts.weak_password", "user:teacher"),
    ("accounts.windows_guest", "user:Guest"),
    ("accounts.windows_administrators", "user:itadmin"),
    ("software.deny_list", "package:AnyDesk"),
    ("software.deny_list", "package:Steam"),
    ("software.deny_list", "package:迅雷"),
    ("patch.windows_supported", "host"),
    ("patch.windows_update_age", "host"),
    ("patch.windows_update_service", "service:wuauserv"),
    ("antivirus.windows_protection", "host"),
    ("firewall.windows_profiles", "firewall:domain"),
    ("firewall.windows_profiles", "firewall:private"),
    ("firewall.windows_profiles", "firewall:public"),
    ("services.windows_remote_desktop", "service:rdp"),
    ("services.windows_smb1", "service:smb1-server"),
    ("services.windows_smb1", "service:smb1-client"),
    ("services.windows_remote_registry", "service:RemoteRegistry"),
    ("services.windows_autorun", "host"),
    ("services.windows_screen_lock", "user:teacher"),
    ("password.windows_policy", "policy:min_length"),
    ("password.windows_policy", "policy:complexity"),
    ("password.windows_policy", "policy:lockout"),
    ("accounts.windows_unused", "user:former"),
}
WINDOWS_CHECKS = {check for check, _ in PLANTED}


def _scan(root: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "xunjian.cli", "scan", "--root", str(root), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("faulty", [True, False], ids=["faulty", "clean"])
def test_scan_root_finds_exactly_the_planted_faults(tmp_path: Path, faulty: bool) -> None:
    volume = build_windows_volume(tmp_path / "pc", faulty=faulty)
    assert HostContext.tree(volume.root).platform == "windows"
    results = _scan(volume.root)
    failed = {(r["check_id"], r["resource"]) for r in results if r["status"] == "fail"}
    assert failed == (PLANTED if faulty else set())
    assert not [r for r in results if r["status"] in ("error", "no_privilege")], results
    judged = {r["check_id"] for r in results if r["status"] in ("pass", "fail")}
    assert judged == WINDOWS_CHECKS  # every Windows check judged the volume, faulty or clean
    # Linux-only checks say so rather than judging a Windows volume.
    linux_only = [r for r in results if r["check_id"] == "accounts.uid0_extra"]
    assert linux_only and linux_only[0]["status"] == "not_applicable"
    assert "this host runs windows" in str(linux_only[0]["message"])
    assert "32ed87bdb5fdc5e9cba88547376818d4" not in json.dumps(results)  # no hash, ever


def test_a_windows_volume_without_its_sam_says_what_is_missing(tmp_path: Path) -> None:
    volume = build_windows_volume(tmp_path / "pc", faulty=True)
    (volume.root / "Windows" / "System32" / "config" / "SAM").unlink()
    by_check = {r["check_id"]: r for r in _scan(volume.root)}
    for check in ("accounts.weak_password", "accounts.windows_guest"):
        assert by_check[check]["status"] == "not_applicable"
        assert "no SAM hive" in str(by_check[check]["message"])
    assert by_check["firewall.windows_profiles"]["status"] == "fail"  # the rest still judged
