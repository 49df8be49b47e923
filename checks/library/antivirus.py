"""Antivirus: a scanner installed and running, fresh signatures, a recent full scan.

No antivirus at all is a failure in every one of these checks, never "not applicable":
POLICY.md E1 and E8 ask every computer to have one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from checks.errors import NotApplicable
from checks.facts import AntivirusProduct, ProcessInfo
from checks.factset import Facts
from checks.model import Finding, Status


def _no_antivirus() -> Finding:
    return Finding(
        Status.FAIL,
        "host",
        "no antivirus software is installed or running on this host",
        {"known_products_looked_for": "ClamAV and common commercial agents"},
    )


def _nothing_to_judge(what: str) -> Finding:
    # One cause, one failure: antivirus.installed reports the missing antivirus (issue 12).
    return Finding(
        Status.NOT_APPLICABLE,
        "host",
        f"no antivirus software is installed, so there is no {what} to judge "
        "(antivirus.installed reports it)",
    )


def _running(product_names: tuple[str, ...], processes: tuple[ProcessInfo, ...]) -> list[str]:
    wanted = set(product_names)
    return sorted({p.name for p in processes if p.name in wanted})


def installed(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    products = list(facts.antivirus.products)
    extra = tuple(params["extra_process_names"])
    try:
        processes: tuple[ProcessInfo, ...] | None = facts.processes
    except NotApplicable:
        processes = None
    if extra and processes is not None:
        seen = _running(extra, processes)
        if seen:
            products.append(AntivirusProduct("named in the policy", (), extra))
    if not products:
        return [_no_antivirus()]
    if processes is None:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"{', '.join(p.name for p in products)} is installed, but the process table "
                "cannot be read here to tell whether it runs",
                {"products": [p.name for p in products]},
            )
        ]
    findings = []
    for product in products:
        running = _running(product.process_names, processes)
        evidence = {"found_at": list(product.found_at), "running": running}
        if running:
            findings.append(
                Finding(
                    Status.PASS,
                    f"antivirus:{product.name}",
                    f"{product.name} is installed and running ({', '.join(running)})",
                    evidence,
                )
            )
    if findings:
        return findings
    return [
        Finding(
            Status.FAIL,
            f"antivirus:{product.name}",
            f"{product.name} is installed but none of its services "
            f"({', '.join(product.process_names)}) is running",
            {"found_at": list(product.found_at)},
        )
        for product in products
    ]


def _age_days(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 86400


def signatures(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    max_days = params["max_age_days"]
    antivirus = facts.antivirus
    now = facts.clock.now
    dated = [db for db in antivirus.signatures if db.built_at is not None]
    if not dated:
        if not antivirus.products:
            return [_nothing_to_judge("signature database")]
        names = ", ".join(p.name for p in antivirus.products)
        if any(p.name == "ClamAV" for p in antivirus.products):
            return [
                Finding(
                    Status.FAIL,
                    "antivirus:ClamAV",
                    "ClamAV is installed but has no signature database (run freshclam)",
                    {"looked_in": ["/var/lib/clamav", "/usr/local/share/clamav"]},
                )
            ]
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"{names} keeps its signature date where the agent cannot read it",
            )
        ]
    # The daily database carries the newest signatures; main changes only a few times a year.
    newest = max(dated, key=lambda db: (db.name == "daily", db.built_at or now))
    assert newest.built_at is not None
    age = _age_days(now, newest.built_at)
    evidence = {
        "database": newest.path,
        "version": newest.version,
        "built_at": newest.built_at.isoformat(),
        "age_days": round(age, 1),
        "max_age_days": max_days,
    }
    if age <= max_days:
        return [
            Finding(
                Status.PASS,
                "antivirus:ClamAV",
                f"the ClamAV signatures are {age:.1f} days old (allowed: {max_days})",
                evidence,
            )
        ]
    return [
        Finding(
            Status.FAIL,
            "antivirus:ClamAV",
            f"the ClamAV signatures are {age:.0f} days old, older than the {max_days} days "
            "allowed; freshclam is not updating them",
            evidence,
        )
    ]


def last_scan(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    max_days = params["max_days"]
    if not facts.antivirus.products:
        return [_nothing_to_judge("scan log")]
    now = facts.clock.now
    logs = [facts.scan_log(path) for path in params["scan_log_paths"]]
    kept = [log for log in logs if log.exists]
    if not kept:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                "no scan log was found, so the last full scan is not on record; run the weekly "
                "full scan with `clamscan -r --log=FILE /` and set scan_log_paths to FILE",
                {"looked_at": list(params["scan_log_paths"])},
            )
        ]
    ends = [(when, log.path) for log in kept for when in log.scans_ended]
    if not ends:
        return [
            Finding(
                Status.FAIL,
                "host",
                "the scan logs record no finished scan",
                {"logs": [log.path for log in kept]},
            )
        ]
    when, path = max(ends)
    age = _age_days(now, when)
    evidence = {"log": path, "ended_at": when.isoformat(), "age_days": round(age, 1)}
    if age <= max_days:
        return [
            Finding(
                Status.PASS,
                "host",
                f"the last full scan ended {age:.1f} days ago (allowed: {max_days})",
                evidence,
            )
        ]
    return [
        Finding(
            Status.FAIL,
            "host",
            f"the last full scan ended {age:.0f} days ago; the policy asks for one every "
            f"{max_days} days",
            evidence,
        )
    ]
