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
    return Finding(
        Status.FAIL,
        "kernel",
        f"kernel {newest} is installed but {kernels.running} is running: the host has not "
        "restarted since the kernel was updated",
        {"running": kernels.running, "newest_installed": newest},
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
                Finding(
                    Status.FAIL,
                    "host",
                    f"updates are installed but not in use until the host restarts ({listed})",
                    {"flag": flag.flag_path, "packages": list(flag.packages)},
                )
            )
    if findings:
        return findings
    kernels = facts.kernels
    if not release.is_debian_family and not kernels.installed:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"{release.pretty_name} keeps no reboot-required flag and no installed kernel "
                "was found to compare with the running one",
            )
        ]
    return [
        Finding(
            Status.PASS,
            "host",
            "no installed update is waiting for a reboot",
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
    return Finding(
        Status.FAIL,
        "apt:sources",
        "no configured package source carries security updates (no security suite such as "
        f"bookworm-security among {', '.join(activity.package_suites)}), so security fixes "
        "never arrive; add the distribution's security source",
        {"suites": list(activity.package_suites)},
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
        shown = "never refreshed" if lists_age == float("inf") else f"{lists_age:.0f} days old"
        return [
            Finding(
                Status.FAIL,
                "host",
                f"no security update is listed, but the package lists are {shown} (allowed: "
                f"{max_age}), so newer security updates cannot be seen; run apt-get update",
                {"lists_age_days": None if lists_age == float("inf") else round(lists_age, 1)},
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
            Finding(
                Status.PASS,
                "host",
                f"{len(updates)} updates are waiting (allowed: {allowed})",
                evidence,
            )
        ]
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return [
        Finding(
            Status.FAIL,
            "host",
            f"{len(updates)} updates are waiting (allowed: {allowed}): "
            f"{', '.join(names[:10])}{more}",
            evidence,
        )
    ]


def package_lists_age(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    activity = facts.package_activity
    max_days = params["max_age_days"]
    refreshed = activity.lists_refreshed_at
    if refreshed is None:
        return [
            Finding(
                Status.FAIL,
                f"{activity.manager}:lists",
                f"the {activity.manager} package lists have never been downloaded, so no "
                "update can be seen",
            )
        ]
    age = (facts.clock.now - refreshed).total_seconds() / 86400
    evidence = {"refreshed_at": refreshed.isoformat(), "age_days": round(age, 1)}
    if age <= max_days:
        return [
            Finding(
                Status.PASS,
                f"{activity.manager}:lists",
                f"the package lists were refreshed {age:.1f} days ago (allowed: {max_days})",
                evidence,
            )
        ]
    return [
        Finding(
            Status.FAIL,
            f"{activity.manager}:lists",
            f"the package lists were last refreshed {age:.0f} days ago (allowed: {max_days}); "
            '"no updates" from such lists means nothing',
            evidence,
        )
    ]


def last_install(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    activity = facts.package_activity
    max_days = params["max_days"]
    if not activity.sources:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"{activity.manager} keeps no log of installs on this host",
            )
        ]
    if activity.last_install_at is None:
        return [
            Finding(
                Status.FAIL,
                "host",
                f"no package install or upgrade is recorded in {', '.join(activity.sources)}",
                {"sources": list(activity.sources)},
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
            Finding(
                Status.PASS,
                "host",
                f"the last package install was {age:.0f} days ago (allowed: {max_days})",
                evidence,
            )
        ]
    return [
        Finding(
            Status.FAIL,
            "host",
            f"no package has been installed or upgraded for {age:.0f} days (allowed: "
            f"{max_days}): patches are not being applied",
            evidence,
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
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"the end of support of {release.pretty_name} is not known to this agent; add "
                "it to extra_eol_dates as ID:VERSION=YYYY-MM-DD",
            )
        ]
    try:
        end = datetime.strptime(date_text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return [Finding(Status.ERROR, "host", f"the end-of-life date {date_text!r} is invalid")]
    evidence = {"release": release.pretty_name, "end_of_life": date_text}
    if facts.clock.now < end:
        return [
            Finding(
                Status.PASS,
                "host",
                f"{release.pretty_name} gets security updates until {date_text}",
                evidence,
            )
        ]
    return [
        Finding(
            Status.FAIL,
            "host",
            f"{release.pretty_name} stopped getting security updates on {date_text}; upgrade "
            "to a supported release",
            evidence,
        )
    ]
