"""Installed programs from the registry (E17), never from ``Win32_Product`` (querying that WMI
class makes Windows Installer check, and self-repair, every MSI program on the PC).

Three Uninstall locations hold what "Apps & features" lists: 64-bit programs in SOFTWARE,
32-bit ones in SOFTWARE\\WOW6432Node, and per-user installs (many Chinese programs: 迅雷, 向日葵,
ToDesk install per user) in each user's NTUSER.DAT. Entries Windows hides from that list
(SystemComponent=1, updates with a ParentKeyName) are left out, as it does. Amcache, where
present, adds programs a user ran or installed that left no Uninstall entry.
"""

from __future__ import annotations

from checks.collectors.windows.registry import RegistrySource
from checks.facts_windows import InstalledProgram

UNINSTALL = "Microsoft\\Windows\\CurrentVersion\\Uninstall"
UNINSTALL_32 = "WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
USER_UNINSTALL = "Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall"
AMCACHE_APPLICATIONS = "Root\\InventoryApplication"


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def uninstall_entries(hive: RegistrySource, path: str, source: str) -> list[InstalledProgram]:
    key = hive.key(path)
    if key is None:
        return []
    programs = []
    for entry in key.subkeys():
        values = entry.values()
        name = _text(values.get("DisplayName"))
        if not name or values.get("SystemComponent") == 1 or values.get("ParentKeyName"):
            continue
        programs.append(
            InstalledProgram(
                name=name,
                version=_text(values.get("DisplayVersion")),
                publisher=_text(values.get("Publisher")),
                install_date=_text(values.get("InstallDate")),
                source=source,
                key=entry.name,
            )
        )
    return programs


def machine_programs(software: RegistrySource) -> list[InstalledProgram]:
    return uninstall_entries(software, UNINSTALL, "uninstall-64") + uninstall_entries(
        software, UNINSTALL_32, "uninstall-32"
    )


def user_programs(user_hive: RegistrySource, profile: str) -> list[InstalledProgram]:
    return uninstall_entries(user_hive, USER_UNINSTALL, f"user:{profile}")


def amcache_programs(amcache: RegistrySource) -> list[InstalledProgram]:
    key = amcache.key(AMCACHE_APPLICATIONS)
    if key is None:
        return []
    programs = []
    for entry in key.subkeys():
        values = entry.values()
        name = _text(values.get("Name"))
        if not name or _text(values.get("InboxModernApp")).lower() == "true":
            continue  # apps that ship with Windows are not installs
        programs.append(
            InstalledProgram(
                name=name,
                version=_text(values.get("Version")),
                publisher=_text(values.get("Publisher")),
                install_date=_text(values.get("InstallDate")),
                source="amcache",
                key=entry.name,
            )
        )
    return programs
