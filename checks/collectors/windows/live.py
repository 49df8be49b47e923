"""The running PC's registry for the Windows collectors (docs/windows.md, "Live").

SOFTWARE, SYSTEM and the loaded users' hives are read in place through ``winreg``
(``registry.LiveHive``); a logged-off user's NTUSER.DAT, not locked then, as a file. SAM (and
the SYSTEM whose class names hold the boot key, which winreg cannot read) are locked and hidden
even from administrators: they are saved with ``RegSaveKey`` by LocalSystem holding
SeBackupPrivilege into a new folder only SYSTEM may read, read there with the offline code
(sam.py), and deleted whatever happens.

Without SeBackupPrivilege (under wine, or not run as LocalSystem) or when saving fails, the
local accounts and the policy come from NetUserEnum/NetUserModalsGet instead (netapi.py).

The operating system is reached through seams, ``registry_api()``, ``hive_saver()``,
``net_api()`` and ``profile_folder()``, which tests replace: a winreg-compatible fake over
real hive files, a fake saver that records what it was asked, a fake Net API over recordings,
the volume's Users folder (tests/windows/test_live_registry.py, test_netapi.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any, Protocol

from checks.collectors.windows.registry import LiveHive, RegistrySource
from checks.errors import CollectError, NotApplicable

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


@dataclass(frozen=True)
class UserProfile:
    """A user's hive on the running PC: loaded under HKEY_USERS (``loaded``), or, for a user
    who is logged off, their NTUSER.DAT file, which is then not locked (``file``)."""

    profile: str  # the profile folder's name, as on a volume (Users/<profile>)
    loaded: LiveHive | None
    file: Path | None


def profile_folder(image_path: str) -> Path:
    """ProfileImagePath (REG_EXPAND_SZ, e.g. ``%SystemDrive%\\Users\\teacher``) as a folder."""
    return Path(os.path.expandvars(image_path))


def user_profiles(software: RegistrySource) -> list[UserProfile]:
    """Every local or domain user's profile that ProfileList names (S-1-5-21-...)."""
    api = registry_api()
    profiles = software.key(PROFILE_LIST)
    found = []
    for entry in profiles.subkeys() if profiles is not None else ():
        if not entry.name.startswith(_USER_SID_PREFIX):
            continue
        image = entry.value("ProfileImagePath")
        image = image if isinstance(image, str) else ""
        profile = PureWindowsPath(image).name if image else entry.name
        hive = LiveHive(api, api.HKEY_USERS, entry.name, f"HKEY_USERS\\{entry.name}")
        if hive.key("") is not None:
            found.append(UserProfile(profile, hive, None))
            continue
        ntuser = profile_folder(image) / "NTUSER.DAT" if image else None
        if ntuser is not None and ntuser.is_file():
            found.append(UserProfile(profile, None, ntuser))
    return sorted(found, key=lambda user: user.profile.casefold())


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


class SaveFailed(CollectError):
    """RegSaveKey (or opening the key to save) failed: the Net API may still answer."""


class HiveAbsent(NotApplicable):
    """The hive to save is not in this registry at all (wine has no SAM): nothing to judge by
    it; the accounts then come from the Net API."""


class NetApiUnavailable(NotApplicable):
    """This Windows does not offer a Net API level (wine implements NetUserEnum levels 0 and 20
    only, and NetUserModalsGet level 2 only)."""


class NetApi(Protocol):
    """The Net API calls for local accounts (netapi.py); pywin32's win32net on the PC, a fake
    over recordings in tests. Dicts as pywin32 returns them."""

    def users(self) -> list[dict[str, Any]]:
        """NetUserEnum(None, 3) for normal accounts, every page; level 20 (no logon times)
        where level 3 is not offered."""

    def modals(self, level: int) -> dict[str, Any]:
        """NetUserModalsGet(None, level) for levels 0 and 3; level 2 with its domain_id (a
        PySID in pywin32) as SID text."""

    def administrator_sids(self) -> list[str]:
        """The member SIDs (text) of S-1-5-32-544, its local name looked up by SID first."""


def net_api() -> NetApi:
    from checks.collectors.windows.win32 import Pywin32NetApi

    return Pywin32NetApi()


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
