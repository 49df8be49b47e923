"""Patch level: a pending reboot, security updates waiting."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.model import Finding, Status

_LISTED_UPDATES = 200


def reboot_required(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    release = facts.os_release
    if not release.is_debian_family:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"the reboot-required flag is kept by Debian and Ubuntu; this host runs "
                f"{release.pretty_name}",
            )
        ]
    flag = facts.reboot_required
    if not flag.required:
        return [Finding(Status.PASS, "host", "no installed update is waiting for a reboot")]
    listed = ", ".join(flag.packages[:10]) or "unnamed packages"
    return [
        Finding(
            Status.FAIL,
            "host",
            f"updates are installed but not in use until the host restarts ({listed})",
            {"flag": flag.flag_path, "packages": list(flag.packages)},
        )
    ]


def security_pending(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    updates = facts.pending_updates
    security = [u for u in updates if u.is_security]
    others = len(updates) - len(security)
    if not security:
        return [
            Finding(
                Status.PASS,
                "host",
                f"no security update is waiting ({others} other updates are); as fresh as the "
                "last apt-get update",
                {"other_pending": others},
            )
        ]
    names = ", ".join(u.package for u in security[:10])
    more = f" and {len(security) - 10} more" if len(security) > 10 else ""
    return [
        Finding(
            Status.FAIL,
            "host",
            f"{len(security)} security updates are waiting: {names}{more}",
            {
                "count": len(security),
                "other_pending": others,
                "security": [
                    {
                        "package": u.package,
                        "current": u.current_version,
                        "new": u.new_version,
                        "origin": u.origin,
                    }
                    for u in security[:_LISTED_UPDATES]
                ],
            },
        )
    ]
