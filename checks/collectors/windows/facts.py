"""The Windows collectors (listed in checks/collectors/windows/__init__.py): each opens the
hives it needs, reads, and closes them. Under ``--root`` they are the files of a mounted
Windows volume (volume.py); on the running PC, the live registry through winreg, and for the
locked SAM, copies saved with RegSaveKey (live.py). The readers cannot tell the two apart
(registry.RegistrySource). A hive that is missing says which; one that cannot be read raises
its HiveError as a CollectError, so every check needing it reports the same clear reason."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from checks.collectors.linux.weak_passwords import organisation_candidates
from checks.collectors.windows import live, powershell
from checks.collectors.windows.antivirus import (
    ANTIVIRUS_PRODUCTS,
    MP_COMPUTER_STATUS,
    defender_from_status,
    security_center_products,
)
from checks.collectors.windows.defender import read_defender
from checks.collectors.windows.desktop import machine_inactivity_seconds, user_screen_lock
from checks.collectors.windows.exposure import read_exposure
from checks.collectors.windows.hives import Hive, HiveError
from checks.collectors.windows.netapi import (
    NetApiError,
    accounts_from_users,
    logon_times_known,
    policy_from_modals,
)
from checks.collectors.windows.ports import (
    collect_windows_listening_programs as collect_windows_listening_programs,
)
from checks.collectors.windows.ports import (
    collect_windows_listening_sockets as collect_windows_listening_sockets,
)
from checks.collectors.windows.registry import HiveAccessDenied, RegistrySource
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
from checks.collectors.windows.updates import (
    PENDING_CACHE,
    UPDATE_HISTORY,
    cumulative_updates_from_history,
    merged,
    pending_from_cache,
)
from checks.collectors.windows.volume import WindowsVolume
from checks.errors import CollectError, NoPrivilege, NotApplicable
from checks.facts import InstalledPackage, PendingUpdate, WeakPasswords
from checks.facts_windows import (
    DefenderState,
    Exposure,
    SamPasswordPolicy,
    SecurityCenter,
    WindowsAccounts,
    WindowsDesktop,
    WindowsSystem,
)
from checks.host import HostContext
from checks.messages import said

logger = logging.getLogger(__name__)


@contextmanager
def _read_errors() -> Iterator[None]:
    try:
        yield
    except HiveAccessDenied as error:
        raise NoPrivilege(str(error)) from None
    except HiveError as error:
        raise CollectError(str(error)) from None


@contextmanager
def _hive_file(path: Path) -> Iterator[Hive]:
    with _read_errors(), Hive(path) as hive:
        yield hive


@contextmanager
def _hive(host: HostContext, name: str) -> Iterator[RegistrySource]:
    """SOFTWARE or SYSTEM: the volume's file, or the running PC's registry."""
    if not host.is_tree:
        with _read_errors():
            yield live.machine_hive(name)
        return
    path = WindowsVolume(host.root).hive(name)
    if path is None:
        raise said(NotApplicable, "windows.no_hive", hive=name)
    with _hive_file(path) as hive:
        yield hive


@contextmanager
def _locked_hives(host: HostContext, *names: str) -> Iterator[list[Hive]]:
    """SAM (and SYSTEM for its boot key) as hive files: the volume's, or saved copies."""
    with ExitStack() as stack:
        if host.is_tree:
            paths = []
            for name in names:
                path = WindowsVolume(host.root).hive(name)
                if path is None:
                    raise said(NotApplicable, "windows.no_hive", hive=name)
                paths.append(path)
        else:
            saved = stack.enter_context(live.saved_hives(live.hive_saver(), *names))
            paths = [saved[name] for name in names]
        yield [stack.enter_context(_hive_file(path)) for path in paths]


@contextmanager
def _user_hives(
    host: HostContext, software: RegistrySource
) -> Iterator[list[tuple[str, RegistrySource]]]:
    """(profile, hive) for each user: Users/*/NTUSER.DAT; live, HKEY_USERS\\<SID> for users
    logged on and the NTUSER.DAT file of the others."""
    with ExitStack() as stack, _read_errors():
        if not host.is_tree:
            hives: list[tuple[str, RegistrySource]] = []
            for user in live.user_profiles(software):
                if user.loaded is not None:
                    hives.append((user.profile, user.loaded))
                elif user.file is not None:
                    hives.append((user.profile, stack.enter_context(_hive_file(user.file))))
            yield hives
            return
        yield [
            (user.profile, stack.enter_context(_hive_file(user.path)))
            for user in WindowsVolume(host.root).user_hives()
        ]


def collect_windows_system(host: HostContext) -> WindowsSystem:
    with _hive(host, "SOFTWARE") as software:
        version = read_windows_version(software)
        if version is None:
            raise CollectError("the SOFTWARE hive has no Microsoft\\Windows NT\\CurrentVersion key")
        cbs = installed_cumulative_updates(software)
    if host.is_tree:
        return WindowsSystem(version, tuple(cbs))
    try:
        answer = powershell.run_json(host, UPDATE_HISTORY, "Windows Update's history")
    except CollectError as error:
        # The version and CBS packages are still true; the update check names this reason.
        return WindowsSystem(version, tuple(cbs), history_error=str(error))
    history = cumulative_updates_from_history(powershell.records(answer))
    return WindowsSystem(version, tuple(merged(cbs, history)))


def collect_windows_exposure(host: HostContext) -> Exposure:
    with _hive(host, "SYSTEM") as system, _hive(host, "SOFTWARE") as software:
        return read_exposure(system, software)


def collect_windows_defender(host: HostContext) -> DefenderState:
    """The hive's state; on the running PC overlaid with MSFT_MpComputerStatus, which knows
    whether the engine runs and when it last scanned."""
    with _hive(host, "SOFTWARE") as software:
        registry = read_defender(software)
    if host.is_tree:
        return registry
    try:
        answer = powershell.run_json(host, MP_COMPUTER_STATUS, "Defender (MSFT_MpComputerStatus)")
        status = powershell.records(answer)
    except powershell.Absent:
        status = []
    if not status:  # Defender removed (a Server without the feature): no engine to judge
        return dataclasses.replace(registry, installed=False, service_enabled=False)
    return defender_from_status(registry, status[0])


def collect_windows_pending_updates(host: HostContext) -> tuple[PendingUpdate, ...]:
    """What the agent's last scheduled search found (updates.py); a scan never searches."""
    if host.is_tree:
        raise said(NotApplicable, "windows.updates_live_only")
    if host.cache is None:
        raise said(NotApplicable, "windows.updates_agent_only")
    path = host.cache / PENDING_CACHE
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise said(NotApplicable, "windows.updates_not_searched_yet") from None
    except (OSError, ValueError) as error:
        raise CollectError(f"{path}: {error}") from None
    if not isinstance(cache, dict):
        raise CollectError(f"{path}: not a JSON object")
    return pending_from_cache(cache, datetime.datetime.now(datetime.UTC))


def collect_windows_security_center(host: HostContext) -> SecurityCenter:
    """Antivirus products registered with Security Center; where it cannot be read, why."""
    if host.is_tree:
        return SecurityCenter(False, "Security Center is read only on the running PC")
    try:
        answer = powershell.run_json(
            host, ANTIVIRUS_PRODUCTS, "Security Center's antivirus products (SecurityCenter2)"
        )
    except powershell.Absent:
        return SecurityCenter(
            False, "this Windows has no Security Center (root/SecurityCenter2): a Server"
        )
    return SecurityCenter(True, "", security_center_products(powershell.records(answer)))


def _accounts_from_net_api() -> WindowsAccounts:
    """The same fact from NetUserEnum/NetUserModalsGet (netapi.py)."""
    api = live.net_api()
    try:
        domain = api.modals(2).get("domain_id")
        if not isinstance(domain, str) or not domain.startswith("S-1-5-21-"):
            raise NetApiError(f"NetUserModalsGet level 2 gives no machine SID ({domain!r})")
        users = api.users()
        try:
            policy: SamPasswordPolicy | None = policy_from_modals(api.modals(0), api.modals(3))
            policy_error = ""
        except NotApplicable as error:  # wine: no levels 0 and 3; the accounts still stand
            policy, policy_error = None, str(error)
        return WindowsAccounts(
            accounts=tuple(accounts_from_users(users, datetime.datetime.now(datetime.UTC))),
            machine_sid=domain,
            administrators=tuple(api.administrator_sids()),
            policy=policy,
            source="netapi",
            policy_error=policy_error,
            logon_times_known=logon_times_known(users),
        )
    except NetApiError as error:
        raise CollectError(str(error)) from None


def collect_windows_accounts(host: HostContext) -> WindowsAccounts:
    if not host.is_tree:
        try:
            return _accounts_from_saved_sam(host)
        except CollectError as error:
            # No SeBackupPrivilege (not LocalSystem), nothing to save or a saved SAM without an
            # account domain (wine): the Net API needs no privilege for the local machine and
            # gives the same accounts. The reason stays in the log.
            logger.info("local accounts from the Net API: %s", error)
            return _accounts_from_net_api()
    return _accounts_from_saved_sam(host)


def _accounts_from_saved_sam(host: HostContext) -> WindowsAccounts:
    with _locked_hives(host, "SAM") as (sam,):
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
    with _locked_hives(host, "SAM", "SYSTEM") as (sam, system):
        try:
            return find_weak_nt_passwords(sam, system, candidates)
        except BootKeyMismatch as error:
            raise NotApplicable(str(error)) from None
        except SamError as error:
            raise CollectError(str(error)) from None


def collect_windows_packages(host: HostContext) -> tuple[InstalledPackage, ...]:
    """Programs from the three Uninstall places and Amcache, as the neutral package fact.

    Amcache is read only from a volume: on the running PC its file is locked and it is not
    loaded under a key winreg can open."""
    with _hive(host, "SOFTWARE") as software, _user_hives(host, software) as users:
        programs = machine_programs(software)
        for profile, user_hive in users:
            programs += user_programs(user_hive, profile)
    amcache = WindowsVolume(host.root).amcache() if host.is_tree else None
    if amcache is not None:
        with _hive_file(amcache) as amcache_hive:
            programs += amcache_programs(amcache_hive)
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
    with _hive(host, "SOFTWARE") as software, _user_hives(host, software) as users:
        machine = machine_inactivity_seconds(software)
        locks = tuple(user_screen_lock(user_hive, profile) for profile, user_hive in users)
    return WindowsDesktop(machine, locks)
