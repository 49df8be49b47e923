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
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"build {system.build} ({system.edition}) is not in this agent's lifecycle "
                "table; upgrade the agent",
                evidence,
            )
        ]
    evidence["security_updates_until"] = end.isoformat()
    esu = params["esu_until"]
    if end < today and esu and system.build in _WINDOWS_10_BUILDS:
        esu_end = datetime.date.fromisoformat(esu)
        if esu_end >= today:
            evidence["esu_until"] = esu
            return [
                Finding(
                    Status.PASS,
                    "host",
                    f"{system.name} {system.display_version} left mainstream support on {end}; "
                    f"it is covered by Extended Security Updates until {esu_end}",
                    evidence,
                )
            ]
    if end < today:
        return [
            Finding(
                Status.FAIL,
                "host",
                f"{system.name} {system.display_version} (build {system.build}) gets no "
                f"security updates since {end}",
                evidence,
            )
        ]
    return [
        Finding(
            Status.PASS,
            "host",
            f"{system.name} {system.display_version} gets security updates until {end}",
            evidence,
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
        return [
            Finding(
                Status.FAIL,
                "host",
                "no installed cumulative update is recorded (Component Based Servicing)",
                evidence,
            )
        ]
    days = (now - last.installed_at).days
    evidence |= {
        "last_update": f"{last.build}.{last.ubr}",
        "installed_at": last.installed_at.isoformat(),
        "days": days,
        "max_days": params["max_days"],
    }
    if days > params["max_days"]:
        return [
            Finding(
                Status.FAIL,
                "host",
                f"the last cumulative update ({last.build}.{last.ubr}) was installed {days} "
                f"days ago, more than {params['max_days']}",
                evidence,
            )
        ]
    return [
        Finding(
            Status.PASS,
            "host",
            f"the last cumulative update ({last.build}.{last.ubr}) was installed {days} days ago",
            evidence,
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
        problems.append("the Windows Update service (wuauserv) is disabled")
    if exposure.windows_update_disabled_by_policy:
        problems.append("group policy turns automatic updates off (NoAutoUpdate=1)")
    if problems:
        return [Finding(Status.FAIL, "service:wuauserv", "; ".join(problems), evidence)]
    return [Finding(Status.PASS, "service:wuauserv", "Windows Update may run", evidence)]


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
        return [
            Finding(Status.FAIL, "host", "Defender's signatures record no update time", evidence)
        ]
    days = (now - updated).days
    evidence |= {"signatures_updated_at": updated.isoformat(), "days": days}
    if days > params["max_signature_days"]:
        return [
            Finding(
                Status.FAIL,
                "host",
                f"Defender's signatures ({defender.signature_version}) are {days} days old, "
                f"more than {params['max_signature_days']}",
                evidence,
            )
        ]
    scanned = _scan_finding(defender, now, params["max_scan_days"], evidence)
    if scanned is not None:
        return [scanned]
    return [
        Finding(
            Status.PASS,
            "host",
            f"Defender is on with real-time protection; signatures {days} days old",
            evidence,
        )
    ]


def _third_party_finding(running: list[SecurityCenterProduct], evidence: dict[str, Any]) -> Finding:
    current = [product for product in running if product.signatures_up_to_date]
    if current:
        name = current[0].name
        label = known_product(name)
        named = f"{name} ({label})" if label and label != name else name
        return Finding(
            Status.PASS,
            "host",
            f"{named} is on and Security Center reports its signatures up to date",
            evidence,
        )
    return Finding(
        Status.FAIL,
        "host",
        f"{running[0].name} is on, but Security Center reports its signatures out of date",
        evidence,
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
            named = ", ".join(f"{product.name} is {product.state}" for product in off)
            return Finding(Status.FAIL, "host", f"no working antivirus: {named}", evidence)
    else:
        others = _third_party(facts)
        if others:
            evidence["third_party"] = [product.package for product in others]
            return Finding(
                Status.NOT_APPLICABLE,
                "host",
                f"Microsoft Defender is off and {others[0].name} is installed; its state is "
                f"not known here ({center.reason})",
                evidence,
            )
    why = (
        "real-time protection is off"
        if defender_on
        else "Microsoft Defender is turned off by policy"
        if defender.installed and defender.disabled_by_policy
        else "Microsoft Defender's engine is not running"
        if defender.installed
        else "Microsoft Defender is not installed"
    )
    # One cause, one failure: the signatures and scans of a product that is off are not judged.
    return Finding(Status.FAIL, "host", f"no working antivirus: {why}", evidence)


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
        return Finding(Status.FAIL, "host", "Defender has never finished a scan", evidence)
    days = (now - last).days
    if days > max_days:
        return Finding(
            Status.FAIL,
            "host",
            f"Defender's last scan finished {days} days ago, more than {max_days}",
            evidence,
        )
    return None


def firewall_profiles(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    profiles = facts.windows_exposure.firewall
    off = [name for name, enabled in profiles.items() if enabled is False]
    unknown = [name for name, enabled in profiles.items() if enabled is None]
    evidence = {"profiles": profiles}
    if off:
        return [
            Finding(
                Status.FAIL,
                f"firewall:{name}",
                f"Windows Firewall is off in the {name} profile",
                evidence,
            )
            for name in off
        ]
    if unknown and len(unknown) == len(profiles):
        return [Finding(Status.ERROR, "host", "no firewall profile setting was found", evidence)]
    return [Finding(Status.PASS, "host", "Windows Firewall is on in every profile", evidence)]


def remote_desktop(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exposure = facts.windows_exposure
    evidence = {"rdp_enabled": exposure.rdp_enabled, "nla_required": exposure.rdp_requires_nla}
    if not exposure.rdp_enabled:
        return [Finding(Status.PASS, "service:rdp", "Remote Desktop is off", evidence)]
    if not exposure.rdp_requires_nla:
        return [
            Finding(
                Status.FAIL,
                "service:rdp",
                "Remote Desktop is on without Network Level Authentication: anyone who reaches "
                "the port gets a logon screen",
                evidence,
            )
        ]
    if not params["allowed"]:
        return [
            Finding(
                Status.FAIL,
                "service:rdp",
                "Remote Desktop is on, and this group's policy does not allow it",
                evidence,
            )
        ]
    return [Finding(Status.PASS, "service:rdp", "Remote Desktop is on and requires NLA", evidence)]


def smb1(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exposure = facts.windows_exposure
    evidence = {"server_smb1": exposure.smb1_server, "client_driver": exposure.smb1_client_driver}
    findings = []
    if exposure.smb1_server:
        findings.append(
            Finding(Status.FAIL, "service:smb1-server", "the SMB server accepts SMBv1", evidence)
        )
    if exposure.smb1_client_driver:
        findings.append(
            Finding(
                Status.FAIL,
                "service:smb1-client",
                "the SMBv1 client driver (mrxsmb10) is installed and enabled",
                evidence,
            )
        )
    return findings or [Finding(Status.PASS, "host", "SMBv1 is off", evidence)]


def remote_registry(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    start = facts.windows_exposure.services.get("RemoteRegistry")
    evidence = {"start": start, "allowed": list(params["allowed_start"])}
    if start is not None and start not in params["allowed_start"]:
        return [
            Finding(
                Status.FAIL,
                "service:RemoteRegistry",
                f"the Remote Registry service starts {start}: the registry can be read and "
                "changed over the network",
                evidence,
            )
        ]
    return [
        Finding(
            Status.PASS,
            "service:RemoteRegistry",
            "Remote Registry is not installed" if start is None else f"Remote Registry is {start}",
            evidence,
        )
    ]


def guest(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    accounts = facts.windows_accounts.accounts
    guest_account = next((account for account in accounts if account.rid == 501), None)
    if guest_account is None:
        return [Finding(Status.PASS, "host", "there is no Guest account (RID 501)")]
    resource = f"user:{guest_account.name}"
    evidence = {"rid": 501, "has_password": guest_account.has_password}
    if guest_account.disabled:
        return [Finding(Status.PASS, resource, "the Guest account is disabled", evidence)]
    return [
        Finding(
            Status.FAIL,
            resource,
            f"the Guest account ({guest_account.name}) is enabled: anyone may log on",
            evidence,
        )
    ]


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
            Finding(
                Status.FAIL,
                f"user:{name}",
                f"{name} is a member of Administrators and not on the approved list",
                {"sid": sid, "local": account is not None},
                severity=Severity.HIGH,
            )
        )
    if findings:
        return findings
    return [
        Finding(
            Status.PASS,
            "host",
            f"Administrators holds only approved members ({len(accounts.administrators)})",
            {"members": list(accounts.administrators)},
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
        Finding(
            Status.PASS if policy.min_length >= wanted_length else Status.FAIL,
            "policy:min_length",
            f"the minimum password length is {policy.min_length} (policy: {wanted_length})",
            evidence,
        )
    )
    if policy.complexity is None:
        # Read live through NetUserModalsGet, which does not carry it: unknown, not passed.
        findings.append(
            Finding(
                Status.NOT_APPLICABLE,
                "policy:complexity",
                "password complexity is not known: the SAM could not be read and the Net API "
                "does not tell",
                evidence,
            )
        )
    else:
        findings.append(
            Finding(
                Status.PASS if policy.complexity else Status.FAIL,
                "policy:complexity",
                "passwords must meet complexity requirements (three of upper, lower, digit, symbol)"
                if policy.complexity
                else "password complexity is not required",
                evidence,
            )
        )
    max_days = params["max_days"]
    if policy.max_age_days is None or policy.max_age_days > max_days:
        said = (
            "never expire"
            if policy.max_age_days is None
            else f"expire after {policy.max_age_days} days"
        )
        findings.append(
            Finding(
                Status.FAIL,
                "policy:max_age",
                f"passwords {said} (policy: at most {max_days})",
                evidence,
            )
        )
    else:
        findings.append(
            Finding(
                Status.PASS,
                "policy:max_age",
                f"passwords expire after {policy.max_age_days} days (policy: at most {max_days})",
                evidence,
            )
        )
    threshold = policy.lockout_threshold
    most = params["max_lockout_threshold"]
    findings.append(
        Finding(
            Status.PASS if 0 < threshold <= most else Status.FAIL,
            "policy:lockout",
            f"accounts lock after {threshold} wrong passwords (policy: 1..{most})"
            if threshold
            else "accounts never lock after wrong passwords: guessing is unlimited",
            evidence,
        )
    )
    return findings


def unused_accounts(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    if not facts.windows_accounts.logon_times_known:
        raise NotApplicable(
            "this Windows's NetUserEnum gives no logon times (only level 20), and the SAM "
            "could not be read"
        )
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
                    Finding(
                        Status.FAIL,
                        f"user:{account.name}",
                        f"account {account.name} last logged on {idle} days ago (allowed: "
                        f"{max_days}); disable it if its owner left",
                        {"last_logon": last.isoformat(), "idle_days": idle, "rid": account.rid},
                    )
                )
            continue
        made = account.password_last_set
        if made is None or (now - made).days > max_days:
            findings.append(
                Finding(
                    Status.FAIL,
                    f"user:{account.name}",
                    f"account {account.name} is enabled and has never logged on",
                    {"password_last_set": made.isoformat() if made else None, "rid": account.rid},
                )
            )
    if findings:
        return findings
    return [
        Finding(
            Status.PASS,
            "host",
            f"every enabled account logged on within {max_days} days",
            {"accounts": len(accounts)},
        )
    ]


# NoDriveTypeAutoRun bits that must be set: removable drives (0x04) and CD/DVD (0x20), the ways
# a USB stick's program starts by itself.
_AUTORUN_REQUIRED = 0x04 | 0x20


def autorun(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    value = facts.windows_exposure.autorun_disabled_drive_types
    evidence = {"NoDriveTypeAutoRun": value}
    if value is None:
        return [
            Finding(
                Status.FAIL,
                "host",
                "AutoRun is not turned off by policy (NoDriveTypeAutoRun is not set)",
                evidence,
            )
        ]
    if value & _AUTORUN_REQUIRED != _AUTORUN_REQUIRED:
        return [
            Finding(
                Status.FAIL,
                "host",
                f"AutoRun stays on for removable or CD drives (NoDriveTypeAutoRun={value:#x})",
                evidence,
            )
        ]
    return [
        Finding(Status.PASS, "host", f"AutoRun is off (NoDriveTypeAutoRun={value:#x})", evidence)
    ]


def screen_lock(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    desktop = facts.windows_desktop
    most = params["max_seconds"]
    machine = desktop.machine_inactivity_seconds
    if machine is not None and 0 < machine <= most:
        return [
            Finding(
                Status.PASS,
                "host",
                f"the PC locks itself after {machine} s without input (machine policy)",
                {"machine_inactivity_seconds": machine},
            )
        ]
    if not desktop.users:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                "no user profile (Users\\*\\NTUSER.DAT) and no machine inactivity limit to judge",
            )
        ]
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
                Finding(
                    Status.PASS,
                    f"user:{user.profile}",
                    f"the screen locks after {user.timeout_seconds} s for {user.profile}",
                    evidence,
                )
            )
            continue
        why = (
            "the screen saver is off"
            if not user.active
            else "the screen saver asks no password on resume"
            if not user.secure
            else f"the screen saver starts after {user.timeout_seconds} s, more than {most}"
        )
        findings.append(
            Finding(Status.FAIL, f"user:{user.profile}", f"{user.profile}: {why}", evidence)
        )
    return findings
