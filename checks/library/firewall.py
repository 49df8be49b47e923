"""The host firewall: active, and denying inbound traffic no rule allows."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status


def host_firewall(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    firewall = facts.firewall
    evidence = {
        "backends": list(firewall.backends),
        "default_inbound": firewall.default_inbound,
        "read_from": firewall.source,
        "details": dict(firewall.details),
    }
    backends = ", ".join(firewall.backends)
    if firewall.default_inbound in {"drop", "reject"}:
        return [
            say(
                Status.PASS,
                "host",
                "firewall.active",
                evidence,
                backends=backends,
                policy=firewall.default_inbound,
            )
        ]
    if firewall.default_inbound is None:
        if firewall.details.get("tools"):
            why = "firewall.no_tool"
        elif firewall.source == "kernel":
            why = "firewall.no_kernel_filter"
        else:
            why = "firewall.not_enabled"
        return [say(Status.FAIL, "host", why, evidence)]
    return [say(Status.FAIL, "host", "firewall.accepts_inbound", evidence, backends=backends)]
