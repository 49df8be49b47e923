"""The running PC's registry for the Windows collectors (docs/windows.md, "Live").

SOFTWARE, SYSTEM and the loaded users' hives are read in place through ``winreg``
(``registry.LiveHive``). SAM (and the SYSTEM whose class names hold the boot key, which winreg
cannot read) are locked and hidden even from administrators: they are saved with
``RegSaveKey`` by LocalSystem holding SeBackupPrivilege into a new folder only SYSTEM may read,
read there with the offline code (sam.py), and deleted whatever happens.

The operating system is reached through two seams, ``registry_api()`` and ``hive_saver()``,
which tests replace: a winreg-compatible fake over real hive files, and a fake saver that
records what it was asked (tests/windows/test_live_registry.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PureWindowsPath
from typing import Any, Protocol

from checks.collectors.windows.registry import LiveHive, RegistrySource

PROFILE_LIST = "Microsoft\\Windows NT\\CurrentVersion\\ProfileList"
# Local and domain users' SIDs; the service accounts (S-1-5-18/19/20) have no desktop to lock.
_USER_SID_PREFIX = "S-1-5-21-"


def registry_api() -> Any:
    """The ``winreg`` module; ImportError off Windows."""
    import winreg

    return winreg


def machine_hive(name: str) -> LiveHive:
    """``HKEY_LOCAL_MACHINE\\<name>`` (SOFTWARE, SYSTEM) of the running PC."""
    api = registry_api()
    return LiveHive(api, api.HKEY_LOCAL_MACHINE, name, f"HKEY_LOCAL_MACHINE\\{name}")


def loaded_user_hives(software: RegistrySource) -> list[tuple[str, LiveHive]]:
    """(profile folder name, hive) of each user whose NTUSER.DAT is loaded (logged on, or a
    service holding it) under ``HKEY_USERS\\<SID>``. A profile not loaded (its user logged off)
    is not read live yet (docs/windows.md)."""
    api = registry_api()
    profiles = software.key(PROFILE_LIST)
    hives = []
    for entry in profiles.subkeys() if profiles is not None else ():
        if not entry.name.startswith(_USER_SID_PREFIX):
            continue
        hive = LiveHive(api, api.HKEY_USERS, entry.name, f"HKEY_USERS\\{entry.name}")
        if hive.key("") is None:
            continue
        image = entry.value("ProfileImagePath")
        profile = PureWindowsPath(image).name if isinstance(image, str) and image else entry.name
        hives.append((profile, hive))
    return sorted(hives, key=lambda pair: pair[0].casefold())


class HiveSaver(Protocol):
    """The Windows calls that copy a locked hive out; pywin32 on the PC, a fake in tests."""

    def enable_backup_privilege(self) -> None:
        """SeBackupPrivilege on, or NoPrivilege (the agent is not LocalSystem)."""

    def make_private_folder(self) -> Path:
        """A new folder whose only ACE grants SYSTEM, inheriting nothing."""

    def save_key(self, name: str, target: Path) -> None:
        """``RegSaveKey`` of ``HKEY_LOCAL_MACHINE\\<name>`` into ``target``, a new file."""

    def remove_folder(self, folder: Path) -> None:
        """The folder and every file in it, gone."""


def hive_saver() -> HiveSaver:
    from checks.collectors.windows.win32 import Pywin32HiveSaver

    return Pywin32HiveSaver()


@contextmanager
def saved_hives(saver: HiveSaver, *names: str) -> Iterator[dict[str, Path]]:
    """``{name: saved file}`` for HKLM hives such as SAM and SYSTEM, deleted on leaving, even
    when saving or reading fails half way."""
    saver.enable_backup_privilege()
    folder = saver.make_private_folder()
    try:
        saved = {}
        for name in names:
            target = folder / name
            saver.save_key(name, target)
            saved[name] = target
        yield saved
    finally:
        saver.remove_folder(folder)
