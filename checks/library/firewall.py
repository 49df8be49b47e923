"""The host firewall: active, and denying inbound traffic no rule allows."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.model import Finding, Status


def host_firewall(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    firewall = facts.firewall
    evidence = {
        "backends": list(firewall.backends),
        "default_inbound": firewall.default_inbound,
        "read_from": firewall.source,
        "details": dict(firewall.details),
    }
    if firewall.default_inbound in {"drop", "reject"}:
        return [
            Finding(
                Status.PASS,
                "host",
                f"the host firewall ({', '.join(firewall.backends)}) is active and "
                f"{firewall.default_inbound}s inbound traffic that no rule allows",
                evidence,
            )
        ]
    if firewall.default_inbound is None:
        if firewall.details.get("tools"):
            where = "no firewall tool (nftables or iptables) is installed"
        elif firewall.source == "kernel":
            where = "the kernel has no input filter"
        else:
            where = "no firewall (nftables, iptables, ufw, firewalld) is enabled at boot"
        return [Finding(Status.FAIL, "host", f"no host firewall is active: {where}", evidence)]
    return [
        Finding(
            Status.FAIL,
            "host",
            f"the host firewall ({', '.join(firewall.backends)}) accepts inbound traffic by "
            "default; set the input policy to drop",
            evidence,
        )
    ]
