"""The registry as the Windows readers see it, whichever way it is reached (docs/windows.md).

Two sources implement the same small view: a hive file read with regipy (``hives.Hive``: a
mounted volume, a disk image, the SAM the live agent saved) and the running PC's registry
through the standard library's ``winreg`` (``LiveHive`` below). The readers (system, exposure,
defender, software, desktop, sam) take a ``RegistrySource`` and cannot tell them apart.

``winreg`` is reached through an object passed in, not imported here: the agent passes the
real module on Windows, and tests pass a winreg-compatible fake over a real hive file
(tests/windows/fakewinreg.py) so that this code runs on real data on Linux too.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any, Protocol

from checks.collectors.windows.hives import HiveError, filetime

# winreg's OSError at the end of an enumeration (ERROR_NO_MORE_ITEMS), not a failure.
_ERROR_NO_MORE_ITEMS = 259


class RegistryKey(Protocol):
    """One key: its name, subkeys by name (compared without case, as Windows does), values."""

    @property
    def name(self) -> str: ...

    @property
    def class_name(self) -> str: ...

    @property
    def last_written(self) -> datetime.datetime | None: ...

    def subkeys(self) -> Iterator[RegistryKey]: ...

    def subkey(self, name: str) -> RegistryKey | None: ...

    def values(self) -> dict[str, Any]: ...

    def value(self, name: str, default: Any = None) -> Any: ...


class RegistrySource(Protocol):
    """A hive: keys by backslash path from its root; ``path`` names it in errors."""

    @property
    def path(self) -> object: ...

    def key(self, path: str) -> RegistryKey | None: ...


class HiveAccessDenied(HiveError):
    """The agent's account may not open a key of the live registry."""


class LiveHive:
    """One hive of the running PC's registry, e.g. ``HKEY_LOCAL_MACHINE\\SOFTWARE``.

    ``api`` is the ``winreg`` module (or a fake with its functions and constants); ``top`` one
    of its predefined keys; ``base`` the hive's key under it. Keys are opened for each read and
    closed at once: a scan reads a few hundred keys, and no handle outlives the read.
    """

    def __init__(self, api: Any, top: int, base: str, label: str) -> None:
        self.api = api
        self.top = top
        self.base = base
        self.path = label

    def key(self, path: str) -> LiveKey | None:
        parts = [part for part in path.split("\\") if part]
        full = "\\".join([self.base, *parts]) if self.base else "\\".join(parts)
        name = parts[-1] if parts else self.base.rsplit("\\", 1)[-1]
        key = LiveKey(self, full, name)
        return key if key.exists() else None


class LiveKey:
    """A key of a LiveHive, read through winreg."""

    def __init__(self, hive: LiveHive, full_path: str, name: str) -> None:
        self._hive = hive
        self._full = full_path
        self._name = name

    def _open(self) -> Any:
        api = self._hive.api
        # The 64-bit view even from a 32-bit Python: WOW6432Node is then read by its own path,
        # as in a hive file, instead of being silently redirected.
        access = api.KEY_READ | api.KEY_WOW64_64KEY
        try:
            return api.OpenKey(self._hive.top, self._full, 0, access)
        except PermissionError:
            raise HiveAccessDenied(
                f"{self._hive.path}: access to {self._full} is denied to this account"
            ) from None

    def exists(self) -> bool:
        try:
            handle = self._open()
        except FileNotFoundError:
            return False
        handle.Close()
        return True

    @property
    def name(self) -> str:
        return self._name

    @property
    def class_name(self) -> str:
        # winreg's QueryInfoKey does not return class names; the boot key, the only reader of
        # them, is read from a SYSTEM hive saved with RegSaveKey (live.py).
        raise HiveError(f"{self._hive.path}: class names are not readable through winreg")

    @property
    def last_written(self) -> datetime.datetime | None:
        with self._open() as handle:
            return filetime(int(self._hive.api.QueryInfoKey(handle)[2]))

    def subkeys(self) -> Iterator[LiveKey]:
        api = self._hive.api
        names = []
        with self._open() as handle:
            index = 0
            while True:
                try:
                    names.append(api.EnumKey(handle, index))
                except OSError as error:
                    if getattr(error, "winerror", None) == _ERROR_NO_MORE_ITEMS:
                        break
                    raise HiveError(f"{self._hive.path}: {self._full}: {error}") from None
                index += 1
        for name in names:
            yield LiveKey(self._hive, f"{self._full}\\{name}", name)

    def subkey(self, name: str) -> LiveKey | None:
        key = LiveKey(self._hive, f"{self._full}\\{name}", name)
        return key if key.exists() else None

    def values(self) -> dict[str, Any]:
        """Every value by name with the data winreg gives (int, str, list of str, bytes)."""
        api = self._hive.api
        found: dict[str, Any] = {}
        with self._open() as handle:
            index = 0
            while True:
                try:
                    name, data, _kind = api.EnumValue(handle, index)
                except OSError as error:
                    if getattr(error, "winerror", None) == _ERROR_NO_MORE_ITEMS:
                        break
                    raise HiveError(f"{self._hive.path}: {self._full}: {error}") from None
                found[name] = data
                index += 1
        return found

    def value(self, name: str, default: Any = None) -> Any:
        try:
            with self._open() as handle:
                return self._hive.api.QueryValueEx(handle, name)[0]
        except FileNotFoundError:
            return default


def current_control_set(system: RegistrySource) -> str:
    """The SYSTEM hive's current control set, e.g. ``ControlSet001`` (Select\\Current)."""
    select = system.key("Select")
    number = select.value("Current") if select is not None else None
    if not isinstance(number, int) or not 0 < number < 1000:
        # Offline hives have no CurrentControlSet link; 1 is what Windows uses unless a
        # last-known-good boot switched it.
        number = 1
    return f"ControlSet{number:03d}"
