"""Mandatory access control (AppArmor or SELinux) confines services beyond file permissions."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status


def mandatory_access_control(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    state = facts.mac_state
    evidence = {
        "apparmor_at_boot": state.apparmor_at_boot,
        "apparmor_in_kernel": state.apparmor_in_kernel,
        "selinux_mode": state.selinux_mode,
    }
    if state.selinux_mode == "enforcing":
        return [say(Status.PASS, "host", "mac.selinux_enforcing", evidence)]
    if state.apparmor_at_boot and state.apparmor_in_kernel is not False:
        return [say(Status.PASS, "host", "mac.apparmor_at_boot", evidence)]
    if state.apparmor_at_boot:
        return [say(Status.FAIL, "host", "mac.apparmor_kernel_off", evidence)]
    if state.selinux_mode in ("permissive", "disabled"):
        return [say(Status.FAIL, "host", f"mac.selinux_{state.selinux_mode}", evidence)]
    return [say(Status.FAIL, "host", "mac.none", evidence)]
