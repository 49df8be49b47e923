"""checks/collectors/windows/hives.py on real hives nobody here made (../shared/windows-hives):
what they hold is read right, and damage is a clear HiveError, never a crash or a guess."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from checks.collectors.windows.hives import Hive, HiveError
from checks.collectors.windows.registry import current_control_set
from tests.windows.hivebuild import build_hive, shared_hive


def test_a_windows_10_system_hive(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("SYSTEM_WIN_10_1709")) as system:
        control_set = current_control_set(system)
        assert control_set == "ControlSet001"
        name = system.key(f"{control_set}\\Control\\ComputerName\\ComputerName")
        assert name is not None and name.value("ComputerName") == "DESKTOP-2KGM189"
        services = system.key(f"{control_set}\\Services")
        assert services is not None
        starts = {
            service: services.subkey(service).value("Start")  # type: ignore[union-attr]
            for service in ("WinDefend", "MpsSvc", "wuauserv", "TermService", "RemoteRegistry")
        }
        assert starts == {
            "WinDefend": 2,
            "MpsSvc": 2,
            "wuauserv": 3,
            "TermService": 3,
            "RemoteRegistry": 4,
        }
        terminal = system.key(f"{control_set}\\Control\\Terminal Server")
        assert terminal is not None and terminal.value("fDenyTSConnections") == 1
        # Key names are matched case-insensitively, as Windows does.
        assert system.key(f"{control_set.upper()}\\CONTROL\\LSA") is not None
        assert system.key(f"{control_set}\\No\\Such\\Key") is None


def test_a_users_hive(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("NTUSER.DAT")) as user:
        desktop = user.key("Control Panel\\Desktop")
        assert desktop is not None and desktop.value("ScreenSaveActive") == "1"
        assert user.key("Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall") is None


def test_long_values_are_not_truncated(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("SYSTEM_WIN_10_1709")) as system:
        updater = system.key("ControlSet001\\Services\\gupdate")
        assert updater is not None
        description = updater.value("Description")
    # regipy cuts values to 256 characters unless told not to; this one has 293.
    assert isinstance(description, str) and len(description) == 293
    assert description.startswith("Keeps your Google software up to date")


def test_a_damaged_hive_fails_with_the_place(real_hive: Callable[[str], Path]) -> None:
    def walk(key):  # type: ignore[no-untyped-def]
        for child in key.subkeys():
            child.values()
            walk(child)

    with Hive(real_hive("corrupted_system_hive")) as damaged, pytest.raises(HiveError) as caught:
        walk(damaged.root)
    assert "corrupted_system_hive: damaged registry hive at ControlSet001\\" in str(caught.value)


def test_not_a_hive_and_no_hive_are_clear_errors(tmp_path: Path) -> None:
    text = tmp_path / "SOFTWARE"
    text.write_text("not a hive")
    with pytest.raises(HiveError, match="no regf signature"):
        Hive(text)
    with pytest.raises(HiveError, match="no such hive file"):
        Hive(tmp_path / "SYSTEM")


def test_a_dirty_hive_is_read_after_its_transaction_logs(
    real_hive: Callable[[str], Path], tmp_path: Path
) -> None:
    for name in ("SYSTEM_B", "SYSTEM_B.LOG1", "SYSTEM_B.LOG2"):
        (tmp_path / name).write_bytes(real_hive(name).read_bytes())
    with Hive(tmp_path / "SYSTEM_B") as replayed:
        assert replayed.replayed
        assert current_control_set(replayed) == "ControlSet001"
        assert replayed.key("ControlSet001\\Services") is not None
    # Its private replayed copy is gone after close; the evidence is untouched.
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "SYSTEM_B",
        "SYSTEM_B.LOG1",
        "SYSTEM_B.LOG2",
    ]
    (tmp_path / "SYSTEM_B.LOG1").unlink()
    (tmp_path / "SYSTEM_B.LOG2").unlink()
    with Hive(tmp_path / "SYSTEM_B") as as_is:
        assert not as_is.replayed  # without logs it is read as it is


def test_planted_hives_from_reg_text_with_class_names(tmp_path: Path) -> None:
    hive = build_hive(
        tmp_path / "SOFTWARE",
        "[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\Thunder]\n"
        '"DisplayName"="迅雷"\n"EstimatedSize"=dword:00001000\n',
        prefix="HKEY_LOCAL_MACHINE\\SOFTWARE",
        class_names={"Classy": "c1a55"},
    )
    with Hive(hive) as software:
        thunder = software.key("Microsoft\\Windows\\CurrentVersion\\Uninstall\\Thunder")
        assert thunder is not None
        assert thunder.values() == {"DisplayName": "迅雷", "EstimatedSize": 4096}
        assert software.key("Classy").class_name == "c1a55"  # type: ignore[union-attr]
    assert shared_hive("minimal.hive").stat().st_size == 8192  # the base is never written
