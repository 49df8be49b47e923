"""Backups (POLICY.md E11): the newest file in each local and off-site location is recent."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.model import Finding, Status


def freshness(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    max_days = params["max_age_days"]
    kinds = (("local", params["local_locations"]), ("offsite", params["offsite_locations"]))
    if not any(locations for _kind, locations in kinds):
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                "the policy names no backup location for this host; set local_locations and "
                "offsite_locations (paths, off-site ones as mounted here)",
            )
        ]
    now = facts.clock.now
    findings = []
    for kind, locations in kinds:
        if not locations:
            findings.append(
                Finding(
                    Status.FAIL,
                    f"backup:{kind}",
                    f"the policy names no {kind.replace('offsite', 'off-site')} backup location; "
                    "E11 asks for both local and off-site backups",
                )
            )
        for path in locations:
            found = facts.backup_location(path)
            resource = f"backup:{kind}:{path}"
            evidence: dict[str, Any] = {"files_seen": found.files_seen, "max_age_days": max_days}
            if not found.exists:
                findings.append(Finding(Status.FAIL, resource, f"{path} does not exist", evidence))
                continue
            if found.newest_at is None:
                findings.append(
                    Finding(Status.FAIL, resource, f"{path} holds no backup file", evidence)
                )
                continue
            age = (now - found.newest_at).total_seconds() / 86400
            evidence.update(
                newest_file=found.newest_file,
                newest_at=found.newest_at.isoformat(),
                age_days=round(age, 1),
            )
            status = Status.PASS if age <= max_days else Status.FAIL
            verdict = "within" if status is Status.PASS else "older than"
            findings.append(
                Finding(
                    status,
                    resource,
                    f"the newest backup in {path} is {age:.1f} days old, {verdict} the "
                    f"{max_days} days allowed",
                    evidence,
                )
            )
    return findings
