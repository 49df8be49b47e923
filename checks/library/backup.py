"""Backups (POLICY.md E11): the newest file in each local and off-site location is recent."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status


def freshness(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    max_days = params["max_age_days"]
    kinds = (("local", params["local_locations"]), ("offsite", params["offsite_locations"]))
    if not any(locations for _kind, locations in kinds):
        return [say(Status.NOT_APPLICABLE, "host", "backup.no_locations")]
    now = facts.clock.now
    findings = []
    for kind, locations in kinds:
        if not locations:
            findings.append(say(Status.FAIL, f"backup:{kind}", f"backup.no_{kind}_location"))
        for path in locations:
            found = facts.backup_location(path)
            resource = f"backup:{kind}:{path}"
            evidence: dict[str, Any] = {"files_seen": found.files_seen, "max_age_days": max_days}
            if not found.exists:
                findings.append(say(Status.FAIL, resource, "backup.missing", evidence, path=path))
                continue
            if found.newest_at is None:
                findings.append(say(Status.FAIL, resource, "backup.empty", evidence, path=path))
                continue
            age = (now - found.newest_at).total_seconds() / 86400
            evidence.update(
                newest_file=found.newest_file,
                newest_at=found.newest_at.isoformat(),
                age_days=round(age, 1),
            )
            status = Status.PASS if age <= max_days else Status.FAIL
            findings.append(
                say(
                    status,
                    resource,
                    "backup.fresh" if status is Status.PASS else "backup.old",
                    evidence,
                    path=path,
                    days=f"{age:.1f}",
                    max_days=max_days,
                )
            )
    return findings
