"""Collectors: the only code that touches the operating system, one function per fact and
platform. ``linux/`` reads files under the host's root and runs commands; ``windows/`` reads
registry hives (a mounted volume's, or the live PC's saved copies). A check declared for a
platform needs a collector of that platform for each of its facts; the registry verifies it
at import (checks/registry.py)."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from checks.collectors.linux.accounts import collect_groups, collect_shadow, collect_users
from checks.collectors.linux.antivirus import collect_antivirus, collect_scan_log
from checks.collectors.linux.desktop import collect_desktop_settings
from checks.collectors.linux.firewall import collect_firewall
from checks.collectors.linux.identity import collect_backup_location, collect_network_interfaces
from checks.collectors.linux.login_defs import collect_login_defs
from checks.collectors.linux.logins import collect_last_logins
from checks.collectors.linux.logs import collect_log_setup
from checks.collectors.linux.mac import collect_mac_state
from checks.collectors.linux.network import collect_listening_sockets
from checks.collectors.linux.packages import (
    collect_kernels,
    collect_package_activity,
    collect_packages,
)
from checks.collectors.linux.pam import collect_pam_history, collect_pam_lockout
from checks.collectors.linux.processes import collect_listening_programs, collect_processes
from checks.collectors.linux.pwquality import collect_pwquality
from checks.collectors.linux.scheduled import collect_scheduled_jobs
from checks.collectors.linux.special_files import collect_special_files
from checks.collectors.linux.ssh_keys import collect_authorized_keys
from checks.collectors.linux.sshd import collect_sshd_config
from checks.collectors.linux.sudoers import collect_sudo_rules
from checks.collectors.linux.system import (
    collect_clock,
    collect_os_release,
    collect_pending_updates,
    collect_reboot_required,
    collect_sensitive_files,
)
from checks.collectors.linux.timesync import collect_time_sync
from checks.collectors.linux.weak_passwords import collect_weak_passwords
from checks.collectors.windows import WINDOWS_COLLECTORS, WINDOWS_KEYED_COLLECTORS
from checks.facts import FactName
from checks.host import HostContext

Collector = Callable[[HostContext], Any]

LINUX_COLLECTORS: dict[FactName, Collector] = {
    FactName.USERS: collect_users,
    FactName.GROUPS: collect_groups,
    FactName.SHADOW: collect_shadow,
    FactName.LOGIN_DEFS: collect_login_defs,
    FactName.PWQUALITY: collect_pwquality,
    FactName.LISTENING_SOCKETS: collect_listening_sockets,
    FactName.REBOOT_REQUIRED: collect_reboot_required,
    FactName.OS_RELEASE: collect_os_release,
    FactName.SSHD_CONFIG: collect_sshd_config,
    FactName.AUTHORIZED_KEYS: collect_authorized_keys,
    FactName.SCHEDULED_JOBS: collect_scheduled_jobs,
    FactName.SUDO_RULES: collect_sudo_rules,
    FactName.TIME_SYNC: collect_time_sync,
    FactName.MAC_STATE: collect_mac_state,
    FactName.PAM_LOCKOUT: collect_pam_lockout,
    FactName.PAM_HISTORY: collect_pam_history,
    FactName.LOG_SETUP: collect_log_setup,
    FactName.SPECIAL_FILES: collect_special_files,
    FactName.DESKTOP_SETTINGS: collect_desktop_settings,
    FactName.PENDING_UPDATES: collect_pending_updates,
    FactName.SENSITIVE_FILES: collect_sensitive_files,
    FactName.CLOCK: collect_clock,
    FactName.PACKAGES: collect_packages,
    FactName.PACKAGE_ACTIVITY: collect_package_activity,
    FactName.KERNELS: collect_kernels,
    FactName.PROCESSES: collect_processes,
    FactName.ANTIVIRUS: collect_antivirus,
    FactName.LAST_LOGINS: collect_last_logins,
    FactName.WEAK_PASSWORDS: collect_weak_passwords,
    FactName.LISTENING_PROGRAMS: collect_listening_programs,
    FactName.FIREWALL: collect_firewall,
    FactName.NETWORK_INTERFACES: collect_network_interfaces,
}

KeyedCollector = Callable[[HostContext, str], Any]

# Facts that depend on a policy value (a path, the organisation's words), collected once per
# value.
LINUX_KEYED_COLLECTORS: dict[FactName, KeyedCollector] = {
    FactName.SCAN_LOG: collect_scan_log,
    FactName.BACKUP_LOCATION: collect_backup_location,
    FactName.WEAK_PASSWORDS: collect_weak_passwords,
}

COLLECTORS: MappingProxyType[tuple[FactName, str], Collector] = MappingProxyType(
    {(name, "linux"): collect for name, collect in LINUX_COLLECTORS.items()}
    | {(name, "windows"): collect for name, collect in WINDOWS_COLLECTORS.items()}
)
KEYED_COLLECTORS: MappingProxyType[tuple[FactName, str], KeyedCollector] = MappingProxyType(
    {(name, "linux"): collect for name, collect in LINUX_KEYED_COLLECTORS.items()}
    | {(name, "windows"): collect for name, collect in WINDOWS_KEYED_COLLECTORS.items()}
)


def collector_for(name: FactName, platform: str) -> Collector | None:
    return COLLECTORS.get((name, platform))


def keyed_collector_for(name: FactName, platform: str) -> KeyedCollector | None:
    return KEYED_COLLECTORS.get((name, platform))
