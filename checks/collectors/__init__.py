"""Collectors: the only code that touches the operating system, one function per fact."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from checks.collectors.accounts import collect_groups, collect_shadow, collect_users
from checks.collectors.login_defs import collect_login_defs
from checks.collectors.network import collect_listening_sockets
from checks.collectors.pwquality import collect_pwquality
from checks.collectors.sshd import collect_sshd_config
from checks.collectors.system import (
    collect_clock,
    collect_os_release,
    collect_pending_updates,
    collect_reboot_required,
    collect_sensitive_files,
)
from checks.facts import FactName
from checks.host import HostContext

Collector = Callable[[HostContext], Any]

COLLECTORS: MappingProxyType[FactName, Collector] = MappingProxyType(
    {
        FactName.USERS: collect_users,
        FactName.GROUPS: collect_groups,
        FactName.SHADOW: collect_shadow,
        FactName.LOGIN_DEFS: collect_login_defs,
        FactName.PWQUALITY: collect_pwquality,
        FactName.LISTENING_SOCKETS: collect_listening_sockets,
        FactName.REBOOT_REQUIRED: collect_reboot_required,
        FactName.OS_RELEASE: collect_os_release,
        FactName.SSHD_CONFIG: collect_sshd_config,
        FactName.PENDING_UPDATES: collect_pending_updates,
        FactName.SENSITIVE_FILES: collect_sensitive_files,
        FactName.CLOCK: collect_clock,
    }
)

# Facts that need a command: under --root they are not applicable.
COMMAND_FACTS = frozenset({FactName.PENDING_UPDATES})
