"""Windows version and patch level from the SOFTWARE hive (E1).

The real patch level is the build plus its update build revision (``UBR``): 19045.5011 is
Windows 10 22H2 with the October 2024 cumulative update. Offline, the last cumulative update
and its date come from Component Based Servicing: each installed ``Package_for_RollupFix`` key
names its build.UBR and holds its install time (``InstallTimeHigh``/``InstallTimeLow``, a
FILETIME). Windows 11 still calls itself "Windows 10" in ProductName: the build tells them
apart (22000 and later is Windows 11).
"""

from __future__ import annotations

import datetime
import re

from checks.collectors.windows.hives import filetime
from checks.collectors.windows.registry import RegistrySource
from checks.facts_windows import CumulativeUpdate, WindowsVersion

CURRENT_VERSION = "Microsoft\\Windows NT\\CurrentVersion"
CBS_PACKAGES = "Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages"
_ROLLUP = re.compile(r"^Package_for_RollupFix~[0-9a-f]+~\w+~~(?P<build>\d+)\.(?P<ubr>\d+)\.", re.I)
# CBS CurrentState: 0x70 installed, 0x50 staged, 0x20 absent, 0x65 pending; only installed counts.
_CBS_INSTALLED = 0x70


def _int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def read_windows_version(software: RegistrySource) -> WindowsVersion | None:
    key = software.key(CURRENT_VERSION)
    if key is None:
        return None
    values = key.values()
    build = _int(values.get("CurrentBuildNumber")) or _int(values.get("CurrentBuild")) or 0
    installed = _int(values.get("InstallDate"))
    return WindowsVersion(
        product_name=str(values.get("ProductName", "")),
        edition=str(values.get("EditionID", "")),
        display_version=str(values.get("DisplayVersion") or values.get("ReleaseId") or ""),
        build=build,
        ubr=_int(values.get("UBR")),
        installation_type=str(values.get("InstallationType", "Client")),
        installed_at=(
            datetime.datetime.fromtimestamp(installed, datetime.UTC) if installed else None
        ),
    )


def installed_cumulative_updates(software: RegistrySource) -> list[CumulativeUpdate]:
    """Installed cumulative updates (RollupFix packages), oldest first."""
    packages = software.key(CBS_PACKAGES)
    if packages is None:
        return []
    updates = []
    for package in packages.subkeys():
        match = _ROLLUP.match(package.name)
        if not match:
            continue
        values = package.values()
        if _int(values.get("CurrentState")) != _CBS_INSTALLED:
            continue
        high, low = _int(values.get("InstallTimeHigh")), _int(values.get("InstallTimeLow"))
        when = filetime((high << 32) | low) if high is not None and low is not None else None
        updates.append(CumulativeUpdate(int(match["build"]), int(match["ubr"]), when))
    return sorted(updates, key=lambda update: (update.build, update.ubr))
