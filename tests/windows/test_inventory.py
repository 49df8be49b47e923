"""What an agent sends of a Windows volume besides its results: the inventory (computer name,
Windows' name, release and build with its update revision) that becomes the report's
``platform``, and the baseline that keys its accounts on SIDs (names are translated and can be
renamed). Read from the planted PCs of tests/windows/volumes.py with the real collectors."""

from __future__ import annotations

from pathlib import Path

from agent.report import fit_platform
from checks.api import collect_baseline, collect_inventory, run_scan
from tests.windows.samforge import machine_sid_text
from tests.windows.volumes import build_windows_volume


def test_the_inventory_names_the_pc_and_its_windows(tmp_path: Path) -> None:
    faulty = collect_inventory(build_windows_volume(tmp_path / "faulty", faulty=True).root)
    assert faulty["platform"] == "windows"
    assert faulty["hostname"] == "JSJ-01"
    assert (faulty["os"], faulty["os_version"], faulty["os_build"]) == (
        "Windows 10 Pro",
        "22H2",
        "19045.2130",
    )
    # Build 26200 says Windows 11, though the registry still says "Windows 10 Pro".
    clean = collect_inventory(build_windows_volume(tmp_path / "clean", faulty=False).root)
    assert (clean["hostname"], clean["os"], clean["os_build"]) == (
        "JSJ-02",
        "Windows 11 Pro",
        "26200.7171",
    )
    assert fit_platform(faulty) == {
        "name": "windows",
        "os": "Windows 10 Pro",
        "version": "22H2",
        "build": "19045.2130",
    }


def test_the_baseline_keys_windows_accounts_on_sids(tmp_path: Path) -> None:
    root = build_windows_volume(tmp_path / "pc", faulty=True).root
    baseline = collect_baseline(root)
    machine = machine_sid_text()
    assert baseline["account_sids"] == sorted(
        f"{machine}-{rid}" for rid in (500, 501, 1001, 1002, 1003)
    )
    assert baseline["accounts"] is None  # the Linux names: there are none on Windows
    assert {"AnyDesk", "Steam", "迅雷"} <= set(baseline["packages"])
    assert baseline["errors"] == {}


def test_an_account_added_after_the_baseline_is_found_by_rid(tmp_path: Path) -> None:
    """The clean twin's accounts are the baseline; the faulty PC, same machine SID, has RID
    1003 more (a teacher's account someone created and left): only that one is reported."""
    clean = collect_baseline(build_windows_volume(tmp_path / "clean", faulty=False).root)
    root = build_windows_volume(tmp_path / "faulty", faulty=True).root
    policy = {
        "accounts.windows_added_since_baseline": {"params": {"baseline": clean["account_sids"]}}
    }
    results = [
        r
        for r in run_scan(policy, root=root)
        if r["check_id"] == "accounts.windows_added_since_baseline"
    ]
    machine = machine_sid_text()
    assert [(r["status"], r["resource"]) for r in results] == [("fail", f"sid:{machine}-1003")]
    assert results[0]["evidence"]["name"] == "former"
    assert results[0]["evidence"]["highest_baseline_rid"] == 1002
    # Against its own accounts the same PC passes.
    own = collect_baseline(root)["account_sids"]
    policy["accounts.windows_added_since_baseline"]["params"]["baseline"] = own
    passed = [
        r["status"]
        for r in run_scan(policy, root=root)
        if r["check_id"] == "accounts.windows_added_since_baseline"
    ]
    assert passed == ["pass"]
