"""Mandatory access control: AppArmor (Debian, Ubuntu) or SELinux (Red Hat family).

AppArmor is on when its service starts at boot (apparmor.service, from the apparmor package)
and, on a live host, when the kernel says so (/sys/module/apparmor/parameters/enabled).
SELinux's mode is the one /etc/selinux/config sets for the next boot.
"""

from __future__ import annotations

import re

from checks.collectors.linux.units import unit_enabled
from checks.facts import MacState
from checks.host import HostContext

APPARMOR_KERNEL = "/sys/module/apparmor/parameters/enabled"
SELINUX_CONFIG = "/etc/selinux/config"


def collect_mac_state(host: HostContext) -> MacState:
    kernel: bool | None = None
    if not host.is_tree:
        answer = host.read_optional(APPARMOR_KERNEL)
        kernel = None if answer is None else answer.strip().upper().startswith("Y")
    config = host.read_optional(SELINUX_CONFIG) or ""
    mode = re.search(r"^\s*SELINUX\s*=\s*(\w+)", config, re.MULTILINE)
    return MacState(
        apparmor_at_boot=unit_enabled(host, "apparmor.service"),
        apparmor_in_kernel=kernel,
        selinux_mode=mode.group(1).lower() if mode else None,
    )
