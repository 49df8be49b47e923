"""The Windows collectors (listed in checks/collectors/windows/__init__.py): each opens the
hives it needs from the host's root (a mounted Windows volume, see volume.py), reads, and
closes them. A hive that is
missing says which; one that cannot be read raises the HiveError as a CollectError, so every
check needing it reports the same clear reason."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager

from checks.collectors.linux.weak_passwords import organisation_candidates
from checks.collectors.windows.defender import read_defender
from checks.collectors.windows.desktop import machine_inactivity_seconds, user_screen_lock
from checks.collectors.windows.exposure import read_exposure
from checks.collectors.windows.hives import Hive, HiveError
from checks.collectors.windows.sam import (
    BootKeyMismatch,
    SamError,
    administrators,
    find_weak_nt_passwords,
    machine_sid,
    read_accounts,
    read_password_policy,
)
from checks.collectors.windows.software import amcache_programs, machine_programs, user_programs
from checks.collectors.windows.system import installed_cumulative_updates, read_windows_version
from checks.collectors.windows.volume import WindowsVolume
from checks.errors import CollectError, NotApplicable
from checks.facts import InstalledPackage, WeakPasswords
from checks.facts_windows import (
    DefenderState,
    Exposure,
    WindowsAccounts,
    WindowsDesktop,
    WindowsSystem,
)
from checks.host import HostContext


@contextmanager
def _hive(host: HostContext, name: str) -> Iterator[Hive]:
    path = WindowsVolume(host.root).hive(name)
    if path is None:
        raise NotApplicable(f"this Windows volume has no {name} hive (Windows/System32/config)")
    try:
        with Hive(path) as hive:
            yield hive
    except HiveError as error:
        raise CollectError(str(error)) from None


def collect_windows_system(host: HostContext) -> WindowsSystem:
    with _hive(host, "SOFTWARE") as software:
        version = read_windows_version(software)
        if version is None:
            raise CollectError("the SOFTWARE hive has no Microsoft\\Windows NT\\CurrentVersion key")
        return WindowsSystem(version, tuple(installed_cumulative_updates(software)))


def collect_windows_exposure(host: HostContext) -> Exposure:
    with _hive(host, "SYSTEM") as system, _hive(host, "SOFTWARE") as software:
        return read_exposure(system, software)


def collect_windows_defender(host: HostContext) -> DefenderState:
    with _hive(host, "SOFTWARE") as software:
        return read_defender(software)


def collect_windows_accounts(host: HostContext) -> WindowsAccounts:
    with _hive(host, "SAM") as sam:
        try:
            return WindowsAccounts(
                accounts=tuple(read_accounts(sam)),
                machine_sid=machine_sid(sam),
                administrators=tuple(administrators(sam)),
                policy=read_password_policy(sam),
            )
        except SamError as error:
            raise CollectError(str(error)) from None


def collect_windows_weak_passwords(host: HostContext, organisation_key: str = "") -> WeakPasswords:
    """Keyed by the organisation's words, as on Linux."""
    words = organisation_key.split("\n") if organisation_key else []
    candidates = organisation_candidates(words, datetime.datetime.now(datetime.UTC).year)
    with _hive(host, "SAM") as sam, _hive(host, "SYSTEM") as system:
        try:
            return find_weak_nt_passwords(sam, system, candidates)
        except BootKeyMismatch as error:
            raise NotApplicable(str(error)) from None
        except SamError as error:
            raise CollectError(str(error)) from None


def collect_windows_packages(host: HostContext) -> tuple[InstalledPackage, ...]:
    """Programs from the three Uninstall places and Amcache, as the neutral package fact."""
    volume = WindowsVolume(host.root)
    with _hive(host, "SOFTWARE") as software:
        programs = machine_programs(software)
    try:
        for user in volume.user_hives():
            with Hive(user.path) as user_hive:
                programs += user_programs(user_hive, user.profile)
        amcache = volume.amcache()
        if amcache is not None:
            with Hive(amcache) as amcache_hive:
                programs += amcache_programs(amcache_hive)
    except HiveError as error:
        raise CollectError(str(error)) from None
    seen: set[str] = set()
    packages = []
    for program in programs:
        if program.name.casefold() in seen:
            continue  # Amcache repeats what Uninstall lists
        seen.add(program.name.casefold())
        packages.append(
            InstalledPackage(
                name=program.name,
                version=program.version,
                architecture="x86" if program.source == "uninstall-32" else "",
                section="",
                manager=program.source,
            )
        )
    return tuple(packages)


def collect_windows_desktop(host: HostContext) -> WindowsDesktop:
    with _hive(host, "SOFTWARE") as software:
        machine = machine_inactivity_seconds(software)
    users = []
    try:
        for user in WindowsVolume(host.root).user_hives():
            with Hive(user.path) as user_hive:
                users.append(user_screen_lock(user_hive, user.profile))
    except HiveError as error:
        raise CollectError(str(error)) from None
    return WindowsDesktop(machine, tuple(users))
