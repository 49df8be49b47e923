"""Checks of Windows PCs and servers, judged from the Windows facts (checks/facts_windows.py).

Where the rule is the same as on Linux the check is shared and lives with its Linux twin
(accounts.weak_password, software.*); these are the ones whose facts exist only on Windows.
Dates of Microsoft's lifecycle are data here, from its published lifecycle pages; a build this
table does not know is not judged (not_applicable, naming the build), never passed.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from checks.errors import NotApplicable
from checks.facts_windows import DefenderState, SecurityCenter, SecurityCenterProduct
from checks.factset import Facts
from checks.messages import said, say
from checks.model import Finding, Severity, Status

# (build, edition family) -> the last day of security updates. Families: "consumer" (Home,
# Pro, Pro Education...), "enterprise" (Enterprise, Education: a year longer for autumn
# releases), "ltsc", "server".
_END_OF_SUPPORT: dict[tuple[int, str], datetime.date] = {
    (7601, "consumer"): datetime.date(2020, 1, 14),  # Windows 7 SP1
    (7601, "enterprise"): datetime.date(2020, 1, 14),
    (9600, "consumer"): datetime.date(2023, 1, 10),  # Windows 8.1
    (9600, "enterprise"): datetime.date(2023, 1, 10),
    (10240, "ltsc"): datetime.date(2025, 10, 14),  # Windows 10 LTSB 2015
    (14393, "ltsc"): datetime.date(2026, 10, 13),  # LTSB 2016
    (17763, "ltsc"): datetime.date(2029, 1, 9),  # LTSC 2019
    (19044, "ltsc"): datetime.date(2027, 1, 12),  # LTSC 2021
    (19042, "consumer"): datetime.date(2022, 5, 10),  # Windows 10 20H2
    (19042, "enterprise"): datetime.date(2023, 5, 9),
    (19043, "consumer"): datetime.date(2022, 12, 13),  # 21H1
    (19043, "enterprise"): datetime.date(2022, 12, 13),
    (19044, "consumer"): datetime.date(2023, 6, 13),  # 21H2
    (19044, "enterprise"): datetime.date(2024, 6, 11),
    (19045, "consumer"): datetime.date(2025, 10, 14),  # 22H2, the last Windows 10
    (19045, "enterprise"): datetime.date(2025, 10, 14),
    (22000, "consumer"): datetime.date(2023, 10, 10),  # Windows 11 21H2
    (22000, "enterprise"): datetime.date(2024, 10, 8),
    (22621, "consumer"): datetime.date(2024, 10, 8),  # 22H2
    (22621, "enterprise"): datetime.date(2025, 10, 14),
    (22631, "consumer"): datetime.date(2025, 11, 11),  # 23H2
    (22631, "enterprise"): datetime.date(2026, 11, 10),
    (26100, "consumer"): datetime.date(2026, 10, 13),  # 24H2
    (26100, "enterprise"): datetime.date(2027, 10, 12),
    (26100, "ltsc"): datetime.date(2029, 10, 9),  # LTSC 2024
    (26200, "consumer"): datetime.date(2027, 10, 12),  # 25H2
    (26200, "enterprise"): datetime.date(2028, 10, 10),
    (9200, "server"): datetime.date(2023, 10, 10),  # Server 2012
    (9600, "server"): datetime.date(2023, 10, 10),  # Server 2012 R2
    (14393, "server"): datetime.date(2027, 1, 12),  # Server 2016
    (17763, "server"): datetime.date(2029, 1, 9),  # Server 2019
    (20348, "server"): datetime.date(2031, 10, 14),  # Server 2022
    (26100, "server"): datetime.date(2034, 10, 10),  # Server 2025
}
_WINDOWS_10_BUILDS = range(10240, 20000)
# Editions whose autumn releases get Enterprise's longer servicing.
_ENTERPRISE_EDITIONS = {"enterprise", "education", "enterprisen", "educationn", "iotenterprise"}


def _family(edition: str, is_server: bool) -> str:
    lowered = edition.lower()
    if is_server:
        return "server"
    if lowered.endswith("s") and lowered.startswith(("enterprise", "iotenterprise")):
        return "ltsc"  # EnterpriseS, IoTEnterpriseS: the long-term servicing channel
    return "enterprise" if lowered in _ENTERPRISE_EDITIONS else "consumer"


def supported(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    system = facts.windows_system.version
    today = facts.clock.now.date()
    family = _family(system.edition, system.is_server)
    evidence: dict[str, Any] = {
        "product": system.name,
        "edition": system.edition,
        "build": system.patch_level,
        "display_version": system.display_version,
    }
    end = _END_OF_SUPPORT.get((system.build, family))
    if end is None and system.build < min(_WINDOWS_10_BUILDS.stop, 19042) and not system.is_server:
        end = datetime.date(2022, 5, 10)  # Windows 10 before 20H2: ended by then at the latest
    if end is None:
        return [
            say(
                Status.NOT_APPLICABLE,
                "host",
                "windows.build_unknown",
                evidence,
                build=system.build,
                edition=system.edition,
            )
        ]
    evidence["security_updates_until"] = end.isoformat()
    esu = params["esu_until"]
    if end < today and esu and system.build in _WINDOWS_10_BUILDS:
        esu_end = datetime.date.fromisoformat(esu)
        if esu_end >= today:
            evidence["esu_until"] = esu
            return [
                say(
                    Status.PASS,
                    "host",
                    "windows.esu_covered",
                    evidence,
                    product=system.name,
                    version=system.display_version,
                    end=end,
                    esu_end=esu_end,
                )
            ]
    if end < today:
        return [
            say(
                Status.FAIL,
                "host",
                "windows.unsupported",
                evidence,
                product=system.name,
                version=system.display_version,
                build=system.build,
                end=end,
            )
        ]
    return [
        say(
            Status.PASS,
            "host",
            "windows.supported",
            evidence,
            product=system.name,
            version=system.display_version,
            end=end,
        )
    ]


def update_age(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    system = facts.windows_system
    now = facts.clock.now
    last = system.last_cumulative_update
    evidence: dict[str, Any] = {"build": system.version.patch_level}
    if system.history_error:
        evidence["update_history"] = system.history_error
    if last is not None:
        evidence |= {"source": last.source, "kb": last.kb}
    if last is None or last.installed_at is None:
        return [say(Status.FAIL, "host", "windows.no_cumulative_update", evidence)]
    days = (now - last.installed_at).days
    evidence |= {
        "last_update": f"{last.build}.{last.ubr}",
        "installed_at": last.installed_at.isoformat(),
        "days": days,
        "max_days": params["max_days"],
    }
    if days > params["max_days"]:
        return [
            say(
                Status.FAIL,
                "host",
                "windows.update_old",
                evidence,
                update=f"{last.build}.{last.ubr}",
                days=days,
                max_days=params["max_days"],
            )
        ]
    return [
        say(
            Status.PASS,
            "host",
            "windows.update_recent",
            evidence,
            update=f"{last.build}.{last.ubr}",
            days=days,
        )
    ]


def update_service(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exposure = facts.windows_exposure
    start = exposure.services.get("wuauserv")
    evidence = {
        "wuauserv": start,
        "no_auto_update_policy": exposure.windows_update_disabled_by_policy,
    }
    problems = []
    if start == "disabled":
        problems.append("service")
    if exposure.windows_update_disabled_by_policy:
        problems.append("policy")
    if problems:
        message_id = f"windows.update_off_by_{'_and_'.join(problems)}"
        return [say(Status.FAIL, "service:wuauserv", message_id, evidence)]
    return [say(Status.PASS, "service:wuauserv", "windows.update_may_run", evidence)]


# Antivirus products found in Chinese schools and offices and internationally, by the words
# their Uninstall entries and Security Center names carry. Offline, their state cannot be read
# (Security Center answers only on the running PC): their presence is said, not judged.
THIRD_PARTY_ANTIVIRUS = {
    "360安全卫士": ("360安全卫士", "360 total security", "360safe"),
    "360杀毒": ("360杀毒", "360sd"),
    "火绒安全": ("火绒", "huorong"),
    "腾讯电脑管家": ("腾讯电脑管家", "qqpcmgr", "tencent pc manager"),
    "金山毒霸": ("金山毒霸", "kingsoft antivirus", "duba"),
    "瑞星": ("瑞星", "rising"),
    "Kaspersky": ("kaspersky",),
    "ESET": ("eset",),
    "Symantec / Norton": ("symantec", "norton"),
    "McAfee": ("mcafee",),
    "Trend Micro": ("trend micro",),
    "Sophos": ("sophos",),
    "Bitdefender": ("bitdefender",),
    "Avast / AVG": ("avast", "avg antivirus"),
}


def known_product(name: str) -> str | None:
    """The catalogue's name for a program or Security Center entry, None when not an AV."""
    lowered = name.casefold()
    for product, words in THIRD_PARTY_ANTIVIRUS.items():
        if any(word.casefold() in lowered for word in words):
            return product
    return None


@dataclass(frozen=True)
class _Product:
    name: str
    package: str


def _third_party(facts: Facts) -> list[_Product]:
    found = []
    for package in facts.packages:
        product = known_product(package.name)
        if product is not None:
            found.append(_Product(product, package.name))
    return found


def antivirus(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    """One finding: the first reason there is no working, current antivirus, or a pass.

    On the running PC a third-party product that Security Center reports on is judged by its
    own state; Defender by MSFT_MpComputerStatus (engine, real-time, signatures, last scan).
    From a volume, Defender by its registry state, and a third-party product only named."""
    defender = facts.windows_defender
    center = facts.windows_security_center
    now = facts.clock.now
    evidence: dict[str, Any] = {
        "defender_installed": defender.installed,
        "defender_disabled_by_policy": defender.disabled_by_policy,
        "realtime_disabled": defender.realtime_disabled,
        "signature_version": defender.signature_version,
    }
    if center.readable:
        others = [product for product in center.products if not product.by_microsoft]
        evidence["security_center"] = [
            {"name": p.name, "state": p.state, "signatures_up_to_date": p.signatures_up_to_date}
            for p in center.products
        ]
        running = [product for product in others if product.state == "on"]
        if running:
            return [_third_party_finding(running, evidence)]
    else:
        evidence["security_center"] = center.reason
    defender_on = (
        defender.installed
        and not defender.disabled_by_policy
        and defender.service_enabled is not False
        and defender.antivirus_enabled is not False
    )
    if not defender_on or defender.realtime_disabled:
        return [_no_working_antivirus(facts, defender, defender_on, center, evidence)]
    updated = defender.signatures_updated_at
    if updated is None:
        return [say(Status.FAIL, "host", "windows.defender_signatures_undated", evidence)]
    days = (now - updated).days
    evidence |= {"signatures_updated_at": updated.isoformat(), "days": days}
    if days > params["max_signature_days"]:
        return [
            say(
                Status.FAIL,
                "host",
                "windows.defender_signatures_old",
                evidence,
                version=defender.signature_version,
                days=days,
                max_days=params["max_signature_days"],
            )
        ]
    scanned = _scan_finding(defender, now, params["max_scan_days"], evidence)
    if scanned is not None:
        return [scanned]
    return [say(Status.PASS, "host", "windows.defender_on", evidence, days=days)]


def _third_party_finding(running: list[SecurityCenterProduct], evidence: dict[str, Any]) -> Finding:
    current = [product for product in running if product.signatures_up_to_date]
    if current:
        name = current[0].name
        label = known_product(name)
        named = f"{name} ({label})" if label and label != name else name
        return say(Status.PASS, "host", "windows.third_party_current", evidence, product=named)
    return say(
        Status.FAIL, "host", "windows.third_party_outdated", evidence, product=running[0].name
    )


def _no_working_antivirus(
    facts: Facts,
    defender: DefenderState,
    defender_on: bool,
    center: SecurityCenter,
    evidence: dict[str, Any],
) -> Finding:
    if center.readable:
        off = [product for product in center.products if not product.by_microsoft]
        if off:
            # Each product's state in English: Security Center's own words ("off", "snoozed").
            named = ", ".join(f"{product.name} is {product.state}" for product in off)
            return say(Status.FAIL, "host", "windows.antivirus_off", evidence, products=named)
    else:
        others = _third_party(facts)
        if others:
            evidence["third_party"] = [product.package for product in others]
            return say(
                Status.NOT_APPLICABLE,
                "host",
                "windows.third_party_state_unknown",
                evidence,
                product=others[0].name,
                reason=center.reason,
            )
    why = (
        "windows.realtime_off"
        if defender_on
        else "windows.defender_off_by_policy"
        if defender.installed and defender.disabled_by_policy
        else "windows.defender_not_running"
        if defender.installed
        else "windows.defender_not_installed"
    )
    # One cause, one failure: the signatures and scans of a product that is off are not judged.
    return say(Status.FAIL, "host", why, evidence)


def _scan_finding(
    defender: DefenderState, now: datetime.datetime, max_days: int, evidence: dict[str, Any]
) -> Finding | None:
    """A failure when Defender's last scan is too old; None when recent or not known (a
    volume's hives keep no scan time, so it is not judged there)."""
    if not defender.live:
        evidence["last_scan"] = "known only on the running PC"
        return None
    last = defender.last_scan_at
    evidence["last_scan_at"] = last.isoformat() if last else None
    if last is None:
        return say(Status.FAIL, "host", "windows.defender_never_scanned", evidence)
    days = (now - last).days
    if days > max_days:
        return say(
            Status.FAIL,
            "host",
            "windows.defender_scan_old",
            evidence,
            days=days,
            max_days=max_days,
        )
    return None


def firewall_profiles(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    profiles = facts.windows_exposure.firewall
    off = [name for name, enabled in profiles.items() if enabled is False]
    unknown = [name for name, enabled in profiles.items() if enabled is None]
    evidence = {"profiles": profiles}
    if off:
        return [
            say(Status.FAIL, f"firewall:{name}", "windows.firewall_off", evidence, profile=name)
            for name in off
        ]
    if unknown and len(unknown) == len(profiles):
        return [say(Status.ERROR, "host", "windows.firewall_unknown", evidence)]
    return [say(Status.PASS, "host", "windows.firewall_on", evidence)]


def remote_desktop(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exposure = facts.windows_exposure
    evidence = {"rdp_enabled": exposure.rdp_enabled, "nla_required": exposure.rdp_requires_nla}
    if not exposure.rdp_enabled:
        return [say(Status.PASS, "service:rdp", "windows.rdp_off", evidence)]
    if not exposure.rdp_requires_nla:
        return [say(Status.FAIL, "service:rdp", "windows.rdp_without_nla", evidence)]
    if not params["allowed"]:
        return [say(Status.FAIL, "service:rdp", "windows.rdp_not_allowed", evidence)]
    return [say(Status.PASS, "service:rdp", "windows.rdp_with_nla", evidence)]


def smb1(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exposure = facts.windows_exposure
    evidence = {"server_smb1": exposure.smb1_server, "client_driver": exposure.smb1_client_driver}
    findings = []
    if exposure.smb1_server:
        findings.append(say(Status.FAIL, "service:smb1-server", "windows.smb1_server", evidence))
    if exposure.smb1_client_driver:
        findings.append(say(Status.FAIL, "service:smb1-client", "windows.smb1_client", evidence))
    return findings or [say(Status.PASS, "host", "windows.smb1_off", evidence)]


def remote_registry(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    start = facts.windows_exposure.services.get("RemoteRegistry")
    evidence = {"start": start, "allowed": list(params["allowed_start"])}
    if start is not None and start not in params["allowed_start"]:
        return [
            say(
                Status.FAIL,
                "service:RemoteRegistry",
                "windows.remote_registry_starts",
                evidence,
                start=start,
            )
        ]
    if start is None:
        return [
            say(Status.PASS, "service:RemoteRegistry", "windows.remote_registry_absent", evidence)
        ]
    return [
        say(Status.PASS, "service:RemoteRegistry", "windows.remote_registry", evidence, start=start)
    ]


def guest(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    accounts = facts.windows_accounts.accounts
    guest_account = next((account for account in accounts if account.rid == 501), None)
    if guest_account is None:
        return [say(Status.PASS, "host", "windows.no_guest")]
    resource = f"user:{guest_account.name}"
    evidence = {"rid": 501, "has_password": guest_account.has_password}
    if guest_account.disabled:
        return [say(Status.PASS, resource, "windows.guest_disabled", evidence)]
    return [say(Status.FAIL, resource, "windows.guest_enabled", evidence, user=guest_account.name)]


def administrators(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    accounts = facts.windows_accounts
    allowed = {name.casefold() for name in params["allowed"]}
    findings = []
    for sid in accounts.administrators:
        account = accounts.account_of(sid)
        if account is not None and account.rid == 500:
            continue  # the built-in Administrator: judged by its password and state elsewhere
        name = account.name if account is not None else sid
        if name.casefold() in allowed:
            continue
        findings.append(
            say(
                Status.FAIL,
                f"user:{name}",
                "windows.admin_unapproved",
                {"sid": sid, "local": account is not None},
                severity=Severity.HIGH,
                user=name,
            )
        )
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "windows.admins_approved",
            {"members": list(accounts.administrators)},
            count=len(accounts.administrators),
        )
    ]


def password_policy(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    policy = facts.windows_accounts.policy
    if policy is None:
        raise NotApplicable(facts.windows_accounts.policy_error)
    evidence = {
        "min_length": policy.min_length,
        "complexity": policy.complexity,
        "max_age_days": policy.max_age_days,
        "lockout_threshold": policy.lockout_threshold,
        "history": policy.history,
    }
    findings = []
    wanted_length = params["min_length"]
    findings.append(
        say(
            Status.PASS if policy.min_length >= wanted_length else Status.FAIL,
            "policy:min_length",
            "windows.min_length",
            evidence,
            length=policy.min_length,
            required=wanted_length,
        )
    )
    if policy.complexity is None:
        # Read live through NetUserModalsGet, which does not carry it: unknown, not passed.
        findings.append(
            say(Status.NOT_APPLICABLE, "policy:complexity", "windows.complexity_unknown", evidence)
        )
    else:
        findings.append(
            say(
                Status.PASS if policy.complexity else Status.FAIL,
                "policy:complexity",
                "windows.complexity_required" if policy.complexity else "windows.complexity_off",
                evidence,
            )
        )
    max_days = params["max_days"]
    if policy.max_age_days is None or policy.max_age_days > max_days:
        findings.append(
            say(
                Status.FAIL,
                "policy:max_age",
                "windows.never_expire" if policy.max_age_days is None else "windows.max_age_long",
                evidence,
                max_days=max_days,
                **({} if policy.max_age_days is None else {"days": policy.max_age_days}),
            )
        )
    else:
        findings.append(
            say(
                Status.PASS,
                "policy:max_age",
                "windows.max_age_ok",
                evidence,
                days=policy.max_age_days,
                max_days=max_days,
            )
        )
    threshold = policy.lockout_threshold
    most = params["max_lockout_threshold"]
    findings.append(
        say(
            Status.PASS if 0 < threshold <= most else Status.FAIL,
            "policy:lockout",
            "windows.lockout" if threshold else "windows.no_lockout",
            evidence,
            **({"threshold": threshold, "allowed": most} if threshold else {}),
        )
    )
    return findings


def unused_accounts(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    if not facts.windows_accounts.logon_times_known:
        raise said(NotApplicable, "windows.no_logon_times")
    accounts = facts.windows_accounts.accounts
    now = facts.clock.now
    max_days = params["max_unused_days"]
    exempt = {name.casefold() for name in params["exempt"]}
    findings = []
    for account in accounts:
        if account.disabled or account.name.casefold() in exempt or account.rid in (500, 501):
            continue  # the built-in ones are judged by their own checks
        last = account.last_logon
        if last is not None:
            idle = (now - last).days
            if idle > max_days:
                findings.append(
                    say(
                        Status.FAIL,
                        f"user:{account.name}",
                        "windows.account_unused",
                        {"last_logon": last.isoformat(), "idle_days": idle, "rid": account.rid},
                        user=account.name,
                        idle=idle,
                        max_days=max_days,
                    )
                )
            continue
        made = account.password_last_set
        if made is None or (now - made).days > max_days:
            findings.append(
                say(
                    Status.FAIL,
                    f"user:{account.name}",
                    "windows.account_never_used",
                    {"password_last_set": made.isoformat() if made else None, "rid": account.rid},
                    user=account.name,
                )
            )
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "windows.accounts_used",
            {"accounts": len(accounts)},
            max_days=max_days,
        )
    ]


# NoDriveTypeAutoRun bits that must be set: removable drives (0x04) and CD/DVD (0x20), the ways
# a USB stick's program starts by itself.
_AUTORUN_REQUIRED = 0x04 | 0x20


def autorun(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    value = facts.windows_exposure.autorun_disabled_drive_types
    evidence = {"NoDriveTypeAutoRun": value}
    if value is None:
        return [say(Status.FAIL, "host", "windows.autorun_not_set", evidence)]
    if value & _AUTORUN_REQUIRED != _AUTORUN_REQUIRED:
        return [say(Status.FAIL, "host", "windows.autorun_on", evidence, value=f"{value:#x}")]
    return [say(Status.PASS, "host", "windows.autorun_off", evidence, value=f"{value:#x}")]


def screen_lock(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    desktop = facts.windows_desktop
    most = params["max_seconds"]
    machine = desktop.machine_inactivity_seconds
    if machine is not None and 0 < machine <= most:
        return [
            say(
                Status.PASS,
                "host",
                "windows.machine_locks",
                {"machine_inactivity_seconds": machine},
                seconds=machine,
            )
        ]
    if not desktop.users:
        return [say(Status.NOT_APPLICABLE, "host", "windows.no_profiles")]
    findings = []
    for user in desktop.users:
        evidence = {
            "active": user.active,
            "secure": user.secure,
            "timeout_seconds": user.timeout_seconds,
            "machine_inactivity_seconds": machine,
        }
        locks = (
            user.active
            and user.secure
            and user.timeout_seconds is not None
            and 0 < user.timeout_seconds <= most
        )
        if locks:
            findings.append(
                say(
                    Status.PASS,
                    f"user:{user.profile}",
                    "windows.user_locks",
                    evidence,
                    seconds=user.timeout_seconds,
                    profile=user.profile,
                )
            )
            continue
        resource = f"user:{user.profile}"
        if not user.active:
            findings.append(
                say(Status.FAIL, resource, "windows.saver_off", evidence, profile=user.profile)
            )
        elif not user.secure:
            findings.append(
                say(
                    Status.FAIL,
                    resource,
                    "windows.saver_no_password",
                    evidence,
                    profile=user.profile,
                )
            )
        else:
            findings.append(
                say(
                    Status.FAIL,
                    resource,
                    "windows.saver_late",
                    evidence,
                    profile=user.profile,
                    seconds=user.timeout_seconds,
                    allowed=most,
                )
            )
    return findings
