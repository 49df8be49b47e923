"""The Windows readers on a planted faulty PC and its clean twin (tests/windows/volumes.py):
each planted fault is read on the faulty volume and absent from the clean one, and the real
hives from ../shared/windows-hives read the same way."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path

import pytest

from checks.collectors.windows.defender import read_defender
from checks.collectors.windows.exposure import read_exposure
from checks.collectors.windows.hives import Hive
from checks.collectors.windows.sam import (
    administrators,
    find_weak_nt_passwords,
    machine_sid,
    read_accounts,
)
from checks.collectors.windows.software import (
    amcache_programs,
    machine_programs,
    user_programs,
)
from checks.collectors.windows.system import installed_cumulative_updates, read_windows_version
from checks.collectors.windows.volume import WindowsVolume, find, is_windows_volume
from tests.windows.samforge import machine_sid_text
from tests.windows.volumes import WHEN


def _hive(volume: WindowsVolume, name: str) -> Hive:
    path = volume.hive(name)
    assert path is not None, name
    return Hive(path)


def test_a_windows_volume_is_recognised_in_any_case(tmp_path: Path) -> None:
    assert not is_windows_volume(tmp_path)
    config = tmp_path / "WINDOWS" / "system32" / "Config"
    config.mkdir(parents=True)
    (config / "software").write_bytes(b"regf")
    assert is_windows_volume(tmp_path)
    assert find(tmp_path, "Windows", "System32", "config", "SOFTWARE") == config / "software"


@pytest.mark.parametrize("faulty", [True, False], ids=["faulty", "clean"])
def test_version_and_patch_level(volumes: dict[bool, WindowsVolume], faulty: bool) -> None:
    with _hive(volumes[faulty], "SOFTWARE") as software:
        version = read_windows_version(software)
        updates = installed_cumulative_updates(software)
    assert version is not None
    if faulty:
        assert (version.name, version.patch_level, version.display_version) == (
            "Windows 10 Pro",
            "19045.2130",
            "22H2",
        )
        assert [(u.build, u.ubr) for u in updates] == [(19045, 2130)]  # the staged one is not
        assert updates[-1].installed_at is not None
        assert updates[-1].installed_at.date() == datetime.date(2022, 10, 12)
    else:
        assert (version.name, version.patch_level) == ("Windows 11 Pro", "26200.7171")
        assert updates[-1].installed_at == WHEN


@pytest.mark.parametrize("faulty", [True, False], ids=["faulty", "clean"])
def test_exposure(volumes: dict[bool, WindowsVolume], faulty: bool) -> None:
    with _hive(volumes[faulty], "SYSTEM") as system, _hive(volumes[faulty], "SOFTWARE") as sw:
        exposure = read_exposure(system, sw)
    assert exposure.firewall == dict.fromkeys(("domain", "private", "public"), not faulty)
    assert exposure.rdp_enabled is faulty
    assert exposure.rdp_requires_nla is not faulty
    assert exposure.smb1_server is faulty
    assert exposure.smb1_client_driver is faulty
    assert exposure.services["RemoteRegistry"] == ("automatic" if faulty else "disabled")
    assert exposure.services["wuauserv"] == ("disabled" if faulty else "manual")
    assert exposure.autorun_disabled_drive_types == (None if faulty else 0xFF)


@pytest.mark.parametrize("faulty", [True, False], ids=["faulty", "clean"])
def test_defender(volumes: dict[bool, WindowsVolume], faulty: bool) -> None:
    with _hive(volumes[faulty], "SOFTWARE") as software:
        defender = read_defender(software)
    assert defender.installed and not defender.disabled_by_policy
    assert defender.realtime_disabled is faulty
    assert defender.signatures_updated_at is not None
    assert (defender.signatures_updated_at.year == 2023) is faulty


@pytest.mark.parametrize("faulty", [True, False], ids=["faulty", "clean"])
def test_software_from_the_three_uninstall_places(
    volumes: dict[bool, WindowsVolume], faulty: bool
) -> None:
    volume = volumes[faulty]
    with _hive(volume, "SOFTWARE") as software:
        programs = machine_programs(software)
    (user,) = volume.user_hives()
    with Hive(user.path) as user_hive:
        programs += user_programs(user_hive, user.profile)
    found = {(program.name, program.source) for program in programs}
    planted = {
        ("AnyDesk", "uninstall-64"),
        ("Steam", "uninstall-32"),
        ("迅雷", "user:teacher"),
    }
    # Hidden components and updates are left out, as Apps & features does.
    assert found == {("7-Zip 24.08 (x64)", "uninstall-64")} | (planted if faulty else set())


@pytest.mark.parametrize("faulty", [True, False], ids=["faulty", "clean"])
def test_accounts_administrators_and_weak_passwords(
    volumes: dict[bool, WindowsVolume], faulty: bool
) -> None:
    volume = volumes[faulty]
    with _hive(volume, "SAM") as sam, _hive(volume, "SYSTEM") as system:
        accounts = {account.name: account for account in read_accounts(sam)}
        members = administrators(sam)
        sid = machine_sid(sam)
        weak = find_weak_nt_passwords(sam, system)
    assert sid == machine_sid_text()
    assert accounts["Guest"].disabled is not faulty
    expected_admins = [f"{sid}-500"] + ([f"{sid}-1002"] if faulty else [])
    assert members == expected_admins  # found by RID although the group is named 管理员组
    assert [(m.account, m.kind) for m in weak.matches] == (
        [("teacher", "common weak")] if faulty else []
    )


def test_the_real_amcache_lists_installed_programs(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("amcache.hve")) as amcache:
        programs = amcache_programs(amcache)
    names = {program.name for program in programs}
    assert {"7-Zip 16.04 (x64)", "Microsoft OneDrive"} <= names
    assert "Microsoft.Messaging" not in names  # an inbox app, not an install
    java = [p for p in programs if p.name.startswith("Java 8 Update 141")]
    assert java and java[0].source == "amcache" and java[0].publisher.startswith("Oracle")


def test_the_real_sams_administrators(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("SAM")) as sam:
        sid = machine_sid(sam)
        assert sid == "S-1-5-21-1760460187-1592185332-161725925"
        assert administrators(sam) == [f"{sid}-500", f"{sid}-1000"]


def test_the_real_system_hives_exposure(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("SYSTEM_WIN_10_1709")) as system:
        exposure = read_exposure(system, None)
    assert exposure.firewall == {"domain": True, "private": True, "public": True}
    assert not exposure.rdp_enabled
    assert exposure.services["RemoteRegistry"] == "disabled"
    assert exposure.services["WinDefend"] == "automatic"
