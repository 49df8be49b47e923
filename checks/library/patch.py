"""Patch level: a pending reboot, security updates waiting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from checks.collectors.linux.packages import kernel_sort_key
from checks.errors import CollectError
from checks.facts import OsRelease
from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status

_LISTED_UPDATES = 200

# When each release stops getting security updates (the end of LTS or maintenance support,
# the last date a patch can come from the vendor at all). Keys are os-release ID and VERSION_ID.
END_OF_LIFE: dict[tuple[str, str], str] = {
    ("debian", "8"): "2020-06-30",
    ("debian", "9"): "2022-06-30",
    ("debian", "10"): "2024-06-30",
    ("debian", "11"): "2026-08-31",
    ("debian", "12"): "2028-06-30",
    ("debian", "13"): "2030-06-30",
    ("ubuntu", "16.04"): "2021-04-30",
    ("ubuntu", "18.04"): "2023-05-31",
    ("ubuntu", "20.04"): "2025-05-31",
    ("ubuntu", "22.04"): "2027-06-01",
    ("ubuntu", "24.04"): "2029-05-31",
    ("centos", "6"): "2020-11-30",
    ("centos", "7"): "2024-06-30",
    ("centos", "8"): "2021-12-31",
    ("rhel", "7"): "2024-06-30",
    ("rhel", "8"): "2029-05-31",
    ("rhel", "9"): "2032-05-31",
    ("rocky", "8"): "2029-05-31",
    ("rocky", "9"): "2032-05-31",
    ("almalinux", "8"): "2029-05-31",
    ("almalinux", "9"): "2032-05-31",
}


def _kernel_finding(facts: Facts) -> Finding | None:
    """A finding when a newer kernel is installed than the one running; None when either is
    unknown (a container, a tree without /boot) or the running one is not a packaged kernel."""
    kernels = facts.kernels
    if kernels.running is None or not kernels.installed:
        return None
    if kernels.running not in kernels.installed:
        return None
    newest = max(kernels.installed, key=kernel_sort_key)
    if newest == kernels.running:
        return None
    return say(
        Status.FAIL,
        "kernel",
        "patch.kernel_not_running",
        {"running": kernels.running, "newest_installed": newest},
        newest=newest,
        running=kernels.running,
    )


def reboot_required(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    release = facts.os_release
    findings = []
    kernel = _kernel_finding(facts)
    if kernel is not None:
        findings.append(kernel)
    if release.is_debian_family:
        flag = facts.reboot_required
        if flag.required:
            listed = ", ".join(flag.packages[:10]) or "unnamed packages"
            findings.append(
                say(
                    Status.FAIL,
                    "host",
                    "patch.reboot_pending",
                    {"flag": flag.flag_path, "packages": list(flag.packages)},
                    packages=listed,
                )
            )
    if findings:
        return findings
    kernels = facts.kernels
    if not release.is_debian_family and not kernels.installed:
        return [
            say(Status.NOT_APPLICABLE, "host", "patch.no_reboot_flag", release=release.pretty_name)
        ]
    return [
        say(
            Status.PASS,
            "host",
            "patch.no_reboot_pending",
            {"running_kernel": kernels.running, "installed_kernels": list(kernels.installed)},
        )
    ]


def _lists_age_days(facts: Facts) -> float | None:
    try:
        refreshed = facts.package_activity.lists_refreshed_at
    except CollectError:
        return None
    if refreshed is None:
        return float("inf")
    return (facts.clock.now - refreshed).total_seconds() / 86400


def _no_security_source(facts: Facts) -> Finding | None:
    try:
        activity = facts.package_activity
    except CollectError:
        return None
    if activity.manager != "apt" or not activity.package_suites or activity.security_suites:
        return None
    return say(
        Status.FAIL,
        "apt:sources",
        "patch.no_security_source",
        {"suites": list(activity.package_suites)},
        suites=", ".join(activity.package_suites),
    )


def security_pending(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    found = _security_pending(facts, params)
    no_source = _no_security_source(facts)
    if no_source is None:
        return found
    # Pending updates from the other suites are still judged beside the missing source.
    return [no_source, *(f for f in found if f.status is not Status.PASS)]


def _security_pending(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    updates = facts.pending_updates
    security = [u for u in updates if u.is_security]
    others = len(updates) - len(security)
    lists_age = _lists_age_days(facts)
    max_age = params["max_list_age_days"]
    if not security and lists_age is not None and lists_age > max_age:
        # Nothing pending according to stale lists says nothing about today's advisories.
        never = lists_age == float("inf")
        return [
            say(
                Status.FAIL,
                "host",
                "patch.lists_never_refreshed" if never else "patch.lists_stale_no_security",
                {"lists_age_days": None if never else round(lists_age, 1)},
                allowed=max_age,
                **({} if never else {"days": f"{lists_age:.0f}"}),
            )
        ]
    if not security:
        return [
            say(
                Status.PASS,
                "host",
                "patch.no_security_pending",
                {"other_pending": others},
                others=others,
            )
        ]
    names = ", ".join(u.package for u in security[:10])
    more = len(security) - 10
    return [
        say(
            Status.FAIL,
            "host",
            "patch.security_pending_more" if more > 0 else "patch.security_pending",
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
            count=len(security),
            names=names,
            **({"more": more} if more > 0 else {}),
        )
    ]


def updates_pending(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    updates = facts.pending_updates
    allowed = params["max_pending"]
    names = [u.package for u in updates]
    evidence = {"count": len(updates), "max_pending": allowed, "packages": names[:_LISTED_UPDATES]}
    if len(updates) <= allowed:
        return [
            say(
                Status.PASS,
                "host",
                "patch.updates_within_limit",
                evidence,
                count=len(updates),
                allowed=allowed,
            )
        ]
    more = len(names) - 10
    return [
        say(
            Status.FAIL,
            "host",
            "patch.updates_too_many_more" if more > 0 else "patch.updates_too_many",
            evidence,
            count=len(updates),
            allowed=allowed,
            names=", ".join(names[:10]),
            **({"more": more} if more > 0 else {}),
        )
    ]


def package_lists_age(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    activity = facts.package_activity
    max_days = params["max_age_days"]
    refreshed = activity.lists_refreshed_at
    if refreshed is None:
        return [
            say(
                Status.FAIL,
                f"{activity.manager}:lists",
                "patch.lists_never_downloaded",
                manager=activity.manager,
            )
        ]
    age = (facts.clock.now - refreshed).total_seconds() / 86400
    evidence = {"refreshed_at": refreshed.isoformat(), "age_days": round(age, 1)}
    if age <= max_days:
        return [
            say(
                Status.PASS,
                f"{activity.manager}:lists",
                "patch.lists_fresh",
                evidence,
                days=f"{age:.1f}",
                max_days=max_days,
            )
        ]
    return [
        say(
            Status.FAIL,
            f"{activity.manager}:lists",
            "patch.lists_stale",
            evidence,
            days=f"{age:.0f}",
            max_days=max_days,
        )
    ]


def last_install(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    activity = facts.package_activity
    max_days = params["max_days"]
    if not activity.sources:
        return [
            say(Status.NOT_APPLICABLE, "host", "patch.no_install_log", manager=activity.manager)
        ]
    if activity.last_install_at is None:
        return [
            say(
                Status.FAIL,
                "host",
                "patch.no_install_recorded",
                {"sources": list(activity.sources)},
                sources=", ".join(activity.sources),
            )
        ]
    age = (facts.clock.now - activity.last_install_at).total_seconds() / 86400
    evidence = {
        "last_install_at": activity.last_install_at.isoformat(),
        "package": activity.last_install_package,
        "age_days": round(age, 1),
        "sources": list(activity.sources),
    }
    if age <= max_days:
        return [
            say(
                Status.PASS,
                "host",
                "patch.last_install_recent",
                evidence,
                days=f"{age:.0f}",
                max_days=max_days,
            )
        ]
    return [
        say(
            Status.FAIL,
            "host",
            "patch.last_install_old",
            evidence,
            days=f"{age:.0f}",
            max_days=max_days,
        )
    ]


def _eol_table(extra: list[str]) -> dict[tuple[str, str], str]:
    table = dict(END_OF_LIFE)
    for entry in extra:
        release, _, date = entry.partition("=")
        os_id, _, version = release.partition(":")
        if os_id and version and date:
            table[(os_id.strip().lower(), version.strip())] = date.strip()
    return table


def _eol_date(release: OsRelease, table: dict[tuple[str, str], str]) -> str | None:
    version = release.version_id
    for candidate in (version, version.split(".")[0]):
        for os_id in (release.id, *release.id_like):
            if (os_id, candidate) in table:
                return table[(os_id, candidate)]
    return None


def eol_release(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    release = facts.os_release
    date_text = _eol_date(release, _eol_table(list(params["extra_eol_dates"])))
    if date_text is None:
        return [
            say(Status.NOT_APPLICABLE, "host", "patch.eol_unknown", release=release.pretty_name)
        ]
    try:
        end = datetime.strptime(date_text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return [say(Status.ERROR, "host", "patch.eol_invalid", date=repr(date_text))]
    evidence = {"release": release.pretty_name, "end_of_life": date_text}
    if facts.clock.now < end:
        return [
            say(
                Status.PASS,
                "host",
                "patch.release_supported",
                evidence,
                release=release.pretty_name,
                date=date_text,
            )
        ]
    return [
        say(
            Status.FAIL,
            "host",
            "patch.release_unsupported",
            evidence,
            release=release.pretty_name,
            date=date_text,
        )
    ]
