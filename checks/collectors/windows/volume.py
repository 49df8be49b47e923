"""A Windows volume seen as a folder: a mounted disk (``xunjian scan --root DIR``), a disk
image's file system, or a test's tree. It is recognised by ``Windows/System32/config/SOFTWARE``;
its hives are found whatever the case of their path (NTFS keeps case but ignores it, and a
copy on a Linux file system may spell ``system32`` or ``System32``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CONFIG = ("Windows", "System32", "config")
AMCACHE = ("Windows", "AppCompat", "Programs", "Amcache.hve")


def _child(folder: Path, name: str) -> Path | None:
    exact = folder / name
    if exact.exists():
        return exact
    try:
        wanted = name.casefold()
        return next((entry for entry in folder.iterdir() if entry.name.casefold() == wanted), None)
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None


def find(root: Path, *parts: str) -> Path | None:
    """``root/parts...`` matched case-insensitively, part by part; None when absent."""
    current: Path | None = root
    for part in parts:
        if current is None:
            return None
        current = _child(current, part)
    return current


def is_windows_volume(root: Path) -> bool:
    found = find(root, *CONFIG, "SOFTWARE")
    return found is not None and found.is_file()


@dataclass(frozen=True)
class UserHive:
    """A user's NTUSER.DAT and the profile folder name it was found in."""

    profile: str
    path: Path


@dataclass(frozen=True)
class WindowsVolume:
    root: Path

    def hive(self, name: str) -> Path | None:
        """SOFTWARE, SYSTEM, SAM or SECURITY from Windows/System32/config."""
        found = find(self.root, *CONFIG, name)
        return found if found is not None and found.is_file() else None

    def amcache(self) -> Path | None:
        found = find(self.root, *AMCACHE)
        return found if found is not None and found.is_file() else None

    def user_hives(self) -> list[UserHive]:
        users = find(self.root, "Users")
        if users is None or not users.is_dir():
            return []
        hives = []
        for profile in sorted(users.iterdir(), key=lambda entry: entry.name.casefold()):
            hive = _child(profile, "NTUSER.DAT") if profile.is_dir() else None
            if hive is not None and hive.is_file():
                hives.append(UserHive(profile.name, hive))
        return hives
