"""The live path on Linux: the same readers and collectors over ``winreg`` give the same facts
as over the hive files.

What is replaced, and only that: the running registry, by a winreg-compatible fake over the
very same hive files (tests/windows/fakewinreg.py, read with plain regipy); and the pywin32
calls that save the locked SAM, by a fake saver that copies the volume's file and records
what it was asked. Everything else is the agent's own code on real or planted hives.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path, PureWindowsPath

import pytest

from checks.collectors.windows import facts as windows_facts
from checks.collectors.windows import live
from checks.collectors.windows.defender import read_defender
from checks.collectors.windows.desktop import machine_inactivity_seconds, user_screen_lock
from checks.collectors.windows.exposure import read_exposure
from checks.collectors.windows.hives import Hive
from checks.collectors.windows.md4 import nt_hash
from checks.collectors.windows.registry import LiveHive
from checks.collectors.windows.software import machine_programs, user_programs
from checks.collectors.windows.system import installed_cumulative_updates, read_windows_version
from checks.collectors.windows.volume import WindowsVolume
from checks.errors import NoPrivilege
from checks.host import HostContext
from tests.windows import fakewinreg
from tests.windows.fakepowershell import defender_and_center
from tests.windows.fakewinreg import FakeWinreg
from tests.windows.volumes import TEACHER_SID


def _path(volume: WindowsVolume, name: str) -> Path:
    path = volume.hive(name)
    assert path is not None
    return path


def _registry(volume: WindowsVolume) -> FakeWinreg:
    """The volume's hives mounted where a running Windows has them."""
    return FakeWinreg(
        {
            (fakewinreg.HKEY_LOCAL_MACHINE, "SOFTWARE"): _path(volume, "SOFTWARE"),
            (fakewinreg.HKEY_LOCAL_MACHINE, "SYSTEM"): _path(volume, "SYSTEM"),
            (fakewinreg.HKEY_USERS, TEACHER_SID): volume.root / "Users" / "teacher" / "NTUSER.DAT",
        }
    )


def _live(api: FakeWinreg, top: int, name: str) -> LiveHive:
    return LiveHive(api, top, name, f"{top:#x}\\{name}")


@pytest.mark.parametrize("faulty", [True, False], ids=["faulty", "clean"])
def test_the_readers_give_the_same_facts_through_winreg(
    volumes: dict[bool, WindowsVolume], faulty: bool
) -> None:
    volume = volumes[faulty]
    api = _registry(volume)
    software = _live(api, fakewinreg.HKEY_LOCAL_MACHINE, "SOFTWARE")
    system = _live(api, fakewinreg.HKEY_LOCAL_MACHINE, "SYSTEM")
    user = _live(api, fakewinreg.HKEY_USERS, TEACHER_SID)
    with (
        Hive(_path(volume, "SOFTWARE")) as software_file,
        Hive(_path(volume, "SYSTEM")) as system_file,
        Hive(volume.root / "Users" / "teacher" / "NTUSER.DAT") as user_file,
    ):
        offline_version = read_windows_version(software_file)
        assert offline_version is not None and offline_version.build in (19045, 26200)
        assert read_windows_version(software) == offline_version
        updates = installed_cumulative_updates(software_file)
        assert updates and installed_cumulative_updates(software) == updates
        exposure = read_exposure(system_file, software_file)
        assert exposure.rdp_enabled is faulty
        assert read_exposure(system, software) == exposure
        defender = read_defender(software_file)
        assert defender.realtime_disabled is faulty
        assert read_defender(software) == defender
        programs = machine_programs(software_file)
        assert ("AnyDesk" in {program.name for program in programs}) is faulty
        assert machine_programs(software) == programs
        assert user_programs(user, "teacher") == user_programs(user_file, "teacher")
        lock = user_screen_lock(user_file, "teacher")
        assert lock.secure is not faulty
        assert user_screen_lock(user, "teacher") == lock
        assert machine_inactivity_seconds(software) == machine_inactivity_seconds(software_file)
    # The live reads went through winreg, not around it.
    assert any("Uninstall" in path for path in api.opened)


def test_a_real_windows_10_system_hive_reads_the_same_through_winreg(
    real_hive: Callable[[str], Path],
) -> None:
    path = real_hive("SYSTEM_WIN_10_1709")
    api = FakeWinreg({(fakewinreg.HKEY_LOCAL_MACHINE, "SYSTEM"): path})
    with Hive(path) as system_file:
        offline = read_exposure(system_file, None)
        live_hive = _live(api, fakewinreg.HKEY_LOCAL_MACHINE, "SYSTEM")
        assert read_exposure(live_hive, None) == offline
        assert offline.firewall == {"domain": True, "private": True, "public": True}
        lsa = "ControlSet001\\Control\\Lsa"
        assert live_hive.key(lsa) is not None
        assert live_hive.key(lsa.upper()) is not None  # case-insensitive, as Windows
        assert live_hive.key(f"{lsa}\\NoSuchKey") is None
        file_key, live_key = system_file.key(lsa), live_hive.key(lsa)
        assert file_key is not None and live_key is not None
        assert live_key.last_written == file_key.last_written
        assert live_key.value("LimitBlankPasswordUse") == 1


def test_a_real_users_hive_reads_the_same_through_winreg(real_hive: Callable[[str], Path]) -> None:
    path = real_hive("NTUSER.DAT")
    api = FakeWinreg({(fakewinreg.HKEY_USERS, "S-1-5-21-1-2-3-1001"): path})
    with Hive(path) as user_file:
        offline = user_screen_lock(user_file, "u")
        assert offline.active
        assert user_screen_lock(_live(api, fakewinreg.HKEY_USERS, "S-1-5-21-1-2-3-1001"), "u") == (
            offline
        )


class FakeSaver:
    """live.HiveSaver over a volume's files: records each call in order."""

    def __init__(self, volume: WindowsVolume, base: Path, fail_on: str = "") -> None:
        self.volume = volume
        self.base = base
        self.fail_on = fail_on
        self.calls: list[str] = []
        self.folders: list[Path] = []

    def enable_backup_privilege(self) -> None:
        self.calls.append("privilege")
        if self.fail_on == "privilege":
            raise NoPrivilege("saving the SAM needs SeBackupPrivilege")

    def make_private_folder(self) -> Path:
        folder = self.base / f"private-{len(self.folders)}"
        folder.mkdir(mode=0o700)
        self.folders.append(folder)
        self.calls.append("folder")
        return folder

    def save_key(self, name: str, target: Path) -> None:
        self.calls.append(f"save {name}")
        if self.fail_on == name:
            raise OSError(f"RegSaveKey failed for {name}")
        assert not target.exists(), "RegSaveKey refuses to overwrite"
        shutil.copyfile(_path(self.volume, name), target)

    def remove_folder(self, folder: Path) -> None:
        self.calls.append("remove")
        shutil.rmtree(folder)


@pytest.fixture
def live_pc(
    volumes: dict[bool, WindowsVolume], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[HostContext, FakeSaver]]:
    """The faulty PC seen as a running Windows: live registry and saver replaced."""
    volume = volumes[True]
    api = _registry(volume)
    saver = FakeSaver(volume, tmp_path)
    monkeypatch.setattr(live, "registry_api", lambda: api)
    monkeypatch.setattr(live, "hive_saver", lambda: saver)
    runner = defender_and_center("mpcomputerstatus_realtime_off.json", None)
    yield HostContext(root=tmp_path, runner=runner, platform="windows", is_tree=False), saver


def test_the_collectors_give_the_same_facts_live_as_from_the_volume(
    volumes: dict[bool, WindowsVolume], live_pc: tuple[HostContext, FakeSaver]
) -> None:
    host, saver = live_pc
    tree = HostContext.tree(volumes[True].root)
    for collect in (
        windows_facts.collect_windows_system,
        windows_facts.collect_windows_exposure,
        windows_facts.collect_windows_packages,
        windows_facts.collect_windows_desktop,
        windows_facts.collect_windows_accounts,
    ):
        assert collect(host) == collect(tree), collect.__name__
    # Defender: the hive's state, with what MSFT_MpComputerStatus alone knows added.
    defender = windows_facts.collect_windows_defender(host)
    offline = windows_facts.collect_windows_defender(tree)
    assert offline.service_enabled is None and defender.service_enabled is True
    assert defender.disabled_by_policy == offline.disabled_by_policy
    assert defender.realtime_disabled is offline.realtime_disabled is True
    desktop = windows_facts.collect_windows_desktop(host)
    assert [user.profile for user in desktop.users] == ["teacher"]  # from ProfileList
    weak = windows_facts.collect_windows_weak_passwords(host)
    assert weak == windows_facts.collect_windows_weak_passwords(tree)
    assert [match.account for match in weak.matches] == ["teacher"]
    # Accounts saved SAM once, weak passwords SAM and SYSTEM; each folder was removed.
    assert saver.calls == [
        "privilege", "folder", "save SAM", "remove",
        "privilege", "folder", "save SAM", "save SYSTEM", "remove",
    ]  # fmt: skip
    assert saver.folders and not any(folder.exists() for folder in saver.folders)


def test_no_nt_hash_leaves_the_live_collector(
    live_pc: tuple[HostContext, FakeSaver], caplog: pytest.LogCaptureFixture
) -> None:
    host, _ = live_pc
    caplog.set_level(logging.DEBUG)
    weak = windows_facts.collect_windows_weak_passwords(host)
    assert weak.matches  # the teacher's 123456 was found...
    planted = nt_hash("123456")
    for text in (repr(weak), caplog.text):  # ...and its hash is nowhere outside the function
        assert planted.hex() not in text.lower()
        assert repr(planted) not in text


@pytest.mark.parametrize("fail_on", ["SYSTEM", "read"])
def test_saved_hives_are_deleted_when_saving_or_reading_fails(
    volumes: dict[bool, WindowsVolume], tmp_path: Path, fail_on: str
) -> None:
    saver = FakeSaver(volumes[True], tmp_path, fail_on=fail_on)
    seen: dict[str, Path] = {}
    expected_error = "RegSaveKey failed" if fail_on == "SYSTEM" else "reading"
    with (
        pytest.raises(OSError, match=expected_error),
        live.saved_hives(saver, "SAM", "SYSTEM") as saved,
    ):
        seen.update(saved)
        raise OSError("reading failed")
    expected = ["privilege", "folder", "save SAM", "save SYSTEM", "remove"]
    assert saver.calls == expected
    assert not saver.folders[0].exists()
    folder = saver.folders[0]
    saved_before_failing = {"SAM": folder / "SAM", "SYSTEM": folder / "SYSTEM"}
    assert seen == ({} if fail_on == "SYSTEM" else saved_before_failing)


def test_without_backup_privilege_nothing_is_saved_and_the_fact_says_so(
    volumes: dict[bool, WindowsVolume], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saver = FakeSaver(volumes[True], tmp_path, fail_on="privilege")
    monkeypatch.setattr(live, "hive_saver", lambda: saver)
    host = HostContext(root=tmp_path, runner=None, platform="windows", is_tree=False)
    # Weak passwords need the SAM's hashes (the accounts fall back to the Net API instead:
    # tests/windows/test_netapi.py).
    with pytest.raises(NoPrivilege, match="SeBackupPrivilege"):
        windows_facts.collect_windows_weak_passwords(host)
    assert saver.calls == ["privilege"]
    assert saver.folders == []


def test_a_key_this_account_may_not_open_is_no_privilege(
    volumes: dict[bool, WindowsVolume], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    api = _registry(volumes[True])
    api.KEY_READ = 0  # every OpenKey is then refused, as for an account without rights
    monkeypatch.setattr(live, "registry_api", lambda: api)
    host = HostContext(root=tmp_path, runner=None, platform="windows", is_tree=False)
    with pytest.raises(NoPrivilege, match="denied"):
        windows_facts.collect_windows_exposure(host)


def test_a_logged_off_users_hive_is_read_from_their_profile_folder(
    volumes: dict[bool, WindowsVolume], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The teacher is logged off: no HKEY_USERS hive, so their NTUSER.DAT file is read (on a
    PC, C:\\Users\\teacher; here the volume's Users/teacher)."""
    volume = volumes[True]
    api = FakeWinreg(
        {
            (fakewinreg.HKEY_LOCAL_MACHINE, "SOFTWARE"): _path(volume, "SOFTWARE"),
            (fakewinreg.HKEY_LOCAL_MACHINE, "SYSTEM"): _path(volume, "SYSTEM"),
        }
    )
    asked: list[str] = []

    def folder(image_path: str) -> Path:
        asked.append(image_path)
        return volume.root / "Users" / PureWindowsPath(image_path).name

    monkeypatch.setattr(live, "registry_api", lambda: api)
    monkeypatch.setattr(live, "profile_folder", folder)
    host = HostContext(root=tmp_path, runner=None, platform="windows", is_tree=False)
    tree = HostContext.tree(volume.root)
    desktop = windows_facts.collect_windows_desktop(host)
    assert desktop == windows_facts.collect_windows_desktop(tree)
    assert [user.profile for user in desktop.users] == ["teacher"]
    packages = windows_facts.collect_windows_packages(host)
    assert "迅雷" in {package.name for package in packages}  # installed for the teacher only
    assert packages == windows_facts.collect_windows_packages(tree)
    assert asked and all(path == "C:\\Users\\teacher" for path in asked)
