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
from checks.messages import say
from checks.model import Finding, Status


def _no_antivirus() -> Finding:
    return say(
        Status.FAIL,
        "host",
        "antivirus.none",
        {"known_products_looked_for": "ClamAV and common commercial agents"},
    )


def _nothing_to_judge(what: str) -> Finding:
    # One cause, one failure: antivirus.installed reports the missing antivirus (issue 12).
    return say(Status.NOT_APPLICABLE, "host", f"antivirus.none_so_no_{what.replace(' ', '_')}")


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
            say(
                Status.NOT_APPLICABLE,
                "host",
                "antivirus.processes_unreadable",
                {"products": [p.name for p in products]},
                products=", ".join(p.name for p in products),
            )
        ]
    findings = []
    for product in products:
        running = _running(product.process_names, processes)
        evidence = {"found_at": list(product.found_at), "running": running}
        if running:
            findings.append(
                say(
                    Status.PASS,
                    f"antivirus:{product.name}",
                    "antivirus.running",
                    evidence,
                    product=product.name,
                    processes=", ".join(running),
                )
            )
    if findings:
        return findings
    return [
        say(
            Status.FAIL,
            f"antivirus:{product.name}",
            "antivirus.not_running",
            {"found_at": list(product.found_at)},
            product=product.name,
            processes=", ".join(product.process_names),
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
                say(
                    Status.FAIL,
                    "antivirus:ClamAV",
                    "antivirus.clamav_no_signatures",
                    {"looked_in": ["/var/lib/clamav", "/usr/local/share/clamav"]},
                )
            ]
        return [
            say(
                Status.NOT_APPLICABLE, "host", "antivirus.signature_date_unreadable", products=names
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
            say(
                Status.PASS,
                "antivirus:ClamAV",
                "antivirus.signatures_fresh",
                evidence,
                days=f"{age:.1f}",
                max_days=max_days,
            )
        ]
    return [
        say(
            Status.FAIL,
            "antivirus:ClamAV",
            "antivirus.signatures_old",
            evidence,
            days=f"{age:.0f}",
            max_days=max_days,
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
            say(
                Status.NOT_APPLICABLE,
                "host",
                "antivirus.no_scan_log",
                {"looked_at": list(params["scan_log_paths"])},
            )
        ]
    ends = [(when, log.path) for log in kept for when in log.scans_ended]
    if not ends:
        return [
            say(
                Status.FAIL,
                "host",
                "antivirus.no_finished_scan",
                {"logs": [log.path for log in kept]},
            )
        ]
    when, path = max(ends)
    age = _age_days(now, when)
    evidence = {"log": path, "ended_at": when.isoformat(), "age_days": round(age, 1)}
    if age <= max_days:
        return [
            say(
                Status.PASS,
                "host",
                "antivirus.scan_recent",
                evidence,
                days=f"{age:.1f}",
                max_days=max_days,
            )
        ]
    return [
        say(
            Status.FAIL,
            "host",
            "antivirus.scan_old",
            evidence,
            days=f"{age:.0f}",
            max_days=max_days,
        )
    ]
