"""A stand-in for the standard library's ``winreg`` over real hive files, for Linux.

Only what cannot exist here is replaced: the running Windows registry. The data is real (the
hives in ../shared/windows-hives or the planted ones tests/windows/hivebuild.py builds), read
with plain regipy (not through xunjian's own hive code, so the live path is not checked
against itself), and handed out the way ``winreg`` does (Python documentation, "winreg"):
predefined keys and REG_* types with their real numbers; ``OpenKey`` raising
``FileNotFoundError`` (winerror 2) for a missing key; ``EnumKey``/``EnumValue`` raising
``OSError`` with winerror 259 after the last item; values as int (REG_DWORD, REG_QWORD), str
(REG_SZ, REG_EXPAND_SZ, unexpanded), list of str (REG_MULTI_SZ), bytes (REG_BINARY, REG_NONE;
None when empty); the default value named ""; ``QueryInfoKey`` giving the last write as
100 ns ticks since 1601; handles usable as context managers.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from regipy.registry import NKRecord, RegistryHive

HKEY_CLASSES_ROOT = 0x80000000
HKEY_CURRENT_USER = 0x80000001
HKEY_LOCAL_MACHINE = 0x80000002
HKEY_USERS = 0x80000003
KEY_READ = 0x20019
KEY_WOW64_64KEY = 0x0100
REG_NONE, REG_SZ, REG_EXPAND_SZ, REG_BINARY, REG_DWORD = 0, 1, 2, 3, 4
REG_DWORD_BIG_ENDIAN, REG_LINK, REG_MULTI_SZ, REG_QWORD = 5, 6, 7, 11
_TYPES = {
    "REG_NONE": REG_NONE,
    "REG_SZ": REG_SZ,
    "REG_EXPAND": REG_EXPAND_SZ,
    "REG_EXPAND_SZ": REG_EXPAND_SZ,
    "REG_BINARY": REG_BINARY,
    "REG_DWORD": REG_DWORD,
    "REG_DWORD_BIG_ENDIAN": REG_DWORD_BIG_ENDIAN,
    "REG_LINK": REG_LINK,
    "REG_MULTI_SZ": REG_MULTI_SZ,
    "REG_QWORD": REG_QWORD,
}


def _no_more_items() -> OSError:
    error = OSError(22, "No more data is available")
    error.winerror = 259  # type: ignore[attr-defined]
    return error


class FakeHKEY:
    """An open key, like winreg's PyHKEY."""

    def __init__(self, record: NKRecord, path: str) -> None:
        self.record = record
        self.path = path
        self.closed = False

    def Close(self) -> None:
        self.closed = True

    def __enter__(self) -> FakeHKEY:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.Close()


def _winreg_value(kind: int, data: Any) -> Any:
    """regipy's decoded data as winreg returns it for the value's type."""
    if kind in (REG_DWORD, REG_QWORD, REG_DWORD_BIG_ENDIAN):
        if isinstance(data, bytes):
            fmt = {REG_DWORD: "<I", REG_QWORD: "<Q", REG_DWORD_BIG_ENDIAN: ">I"}[kind]
            return struct.unpack_from(fmt, data)[0]
        return int(data)
    if kind in (REG_SZ, REG_EXPAND_SZ, REG_LINK):
        if isinstance(data, bytes):
            data = data.decode("utf-16-le", errors="replace")
        return str(data).split("\x00", 1)[0]
    if kind == REG_MULTI_SZ:
        if isinstance(data, str):
            return [part for part in data.split("\x00") if part]
        return [str(part) for part in data or [] if part]
    if data is None or data == b"":
        return None if kind == REG_NONE else b""
    return data if isinstance(data, bytes) else bytes(data)


class FakeWinreg:
    """``winreg`` over hive files mounted at (predefined key, first path part)."""

    HKEY_CLASSES_ROOT = HKEY_CLASSES_ROOT
    HKEY_CURRENT_USER = HKEY_CURRENT_USER
    HKEY_LOCAL_MACHINE = HKEY_LOCAL_MACHINE
    HKEY_USERS = HKEY_USERS
    KEY_READ = KEY_READ
    KEY_WOW64_64KEY = KEY_WOW64_64KEY
    REG_NONE, REG_SZ, REG_EXPAND_SZ, REG_BINARY = REG_NONE, REG_SZ, REG_EXPAND_SZ, REG_BINARY
    REG_DWORD, REG_MULTI_SZ, REG_QWORD = REG_DWORD, REG_MULTI_SZ, REG_QWORD

    def __init__(self, mounts: dict[tuple[int, str], Path]) -> None:
        self._hives = {
            (top, name.casefold()): (name, RegistryHive(str(path)))
            for (top, name), path in mounts.items()
        }
        self.opened: list[str] = []  # every path opened, for tests that need to know

    def OpenKey(
        self, key: int | FakeHKEY, sub_key: str, reserved: int = 0, access: int = KEY_READ
    ) -> FakeHKEY:
        if access & KEY_READ != KEY_READ:
            raise PermissionError(13, "Access is denied")
        parts = [part for part in sub_key.split("\\") if part]
        if isinstance(key, FakeHKEY):
            record, path = key.record, key.path
        else:
            if not parts or (key, parts[0].casefold()) not in self._hives:
                raise self._missing(sub_key)
            mount, hive = self._hives[(key, parts.pop(0).casefold())]
            record, path = hive.root, mount
        for part in parts:
            found = record.get_subkey(part, raise_on_missing=False) if record.subkey_count else None
            if found is None:
                raise self._missing(sub_key)
            record, path = found, f"{path}\\{found.name}"
        self.opened.append(path)
        return FakeHKEY(record, path)

    @staticmethod
    def _missing(sub_key: str) -> FileNotFoundError:
        error = FileNotFoundError(2, "The system cannot find the file specified", sub_key)
        error.winerror = 2  # type: ignore[attr-defined]
        return error

    def EnumKey(self, key: FakeHKEY, index: int) -> str:
        names = [str(record.name) for record in key.record.iter_subkeys()]
        if index >= len(names):
            raise _no_more_items()
        return names[index]

    def _values(self, key: FakeHKEY) -> list[tuple[str, Any, int]]:
        found = []
        for value in key.record.iter_values(as_json=False, trim_values=False) or ():
            kind = _TYPES.get(str(value.value_type), REG_BINARY)
            name = "" if value.name == "(default)" else str(value.name)
            found.append((name, _winreg_value(kind, value.value), kind))
        return found

    def EnumValue(self, key: FakeHKEY, index: int) -> tuple[str, Any, int]:
        values = self._values(key)
        if index >= len(values):
            raise _no_more_items()
        return values[index]

    def QueryValueEx(self, key: FakeHKEY, name: str) -> tuple[Any, int]:
        for value_name, data, kind in self._values(key):
            if value_name.casefold() == name.casefold():
                return data, kind
        raise self._missing(name)

    def QueryInfoKey(self, key: FakeHKEY) -> tuple[int, int, int]:
        header = key.record.header
        return int(header.subkey_count), int(header.values_count), int(header.last_modified)
