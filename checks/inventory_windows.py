"""A Windows host's inventory: computer name and the installed Windows (name, release, build
with its update revision), read from the volume's hives. The network addresses of a volume are
not in its hives in a usable form (DHCP leases are stale on an image), so it reports none."""

from __future__ import annotations

from checks.errors import CollectError
from checks.facts import FactName
from checks.facts_windows import WindowsSystem
from checks.host import HostContext

_COMPUTER_NAME_KEY = "Control\\ComputerName\\ComputerName"


def windows_computer_name(host: HostContext) -> str:
    """The SYSTEM hive's ComputerName; "" when the hive or the value is missing or unreadable:
    a label for people, never an identity (docs/architecture.md)."""
    # Loaded here, not at import: checks stays standard-library only until a Windows host is
    # scanned (checks/collectors/windows/__init__.py).
    from checks.collectors.windows.hives import Hive, HiveError
    from checks.collectors.windows.registry import current_control_set
    from checks.collectors.windows.volume import WindowsVolume

    path = WindowsVolume(host.root).hive("SYSTEM")
    if path is None:
        return ""
    try:
        with Hive(path) as system:
            key = system.key(f"{current_control_set(system)}\\{_COMPUTER_NAME_KEY}")
            name = key.value("ComputerName") if key is not None else None
    except HiveError:
        return ""
    return name if isinstance(name, str) else ""


def windows_os(host: HostContext) -> dict[str, str]:
    """``os``, ``os_version`` and ``os_build`` of the installed Windows ("Windows 11 Pro",
    "24H2", "26100.7171"): the build with its update revision is the real patch level."""
    from checks.collectors import collector_for

    collect = collector_for(FactName.WINDOWS_SYSTEM, host.platform)
    try:
        system: WindowsSystem = collect(host) if collect is not None else None
    except CollectError:
        system = None
    if system is None:
        return {"os": "", "os_version": "", "os_build": ""}
    version = system.version
    return {
        "os": version.name,
        "os_version": version.display_version,
        "os_build": version.patch_level,
    }
