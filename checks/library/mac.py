"""Mandatory access control (AppArmor or SELinux) confines services beyond file permissions."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.model import Finding, Status


def mandatory_access_control(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    state = facts.mac_state
    evidence = {
        "apparmor_at_boot": state.apparmor_at_boot,
        "apparmor_in_kernel": state.apparmor_in_kernel,
        "selinux_mode": state.selinux_mode,
    }
    if state.selinux_mode == "enforcing":
        return [Finding(Status.PASS, "host", "SELinux is enforcing", evidence)]
    if state.apparmor_at_boot and state.apparmor_in_kernel is not False:
        return [Finding(Status.PASS, "host", "AppArmor starts at boot", evidence)]
    if state.apparmor_at_boot:
        why = "the AppArmor service is enabled, but the running kernel has AppArmor off"
    elif state.selinux_mode in ("permissive", "disabled"):
        why = f"SELinux is {state.selinux_mode} and AppArmor does not start at boot"
    else:
        why = "neither AppArmor nor SELinux is enabled (install apparmor on Debian)"
    return [Finding(Status.FAIL, "host", f"no mandatory access control: {why}", evidence)]
