"""Account checks: who can be root, who has no password, who should not be there."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from checks.errors import NoPrivilege, NotApplicable
from checks.facts import PasswordState
from checks.factset import Facts
from checks.model import Finding, Status

DEFAULT_UID_MIN = 1000
NOBODY_UID = 65534


def uid0_extra(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    allowed = set(params["allowed"])
    extras = [u for u in facts.users if u.uid == 0 and u.name != "root" and u.name not in allowed]
    if not extras:
        return [Finding(Status.PASS, "host", "no account other than root has UID 0")]
    return [
        Finding(
            Status.FAIL,
            f"user:{user.name}",
            f"account {user.name} has UID 0, so it holds every power root holds",
            {"uid": user.uid, "gid": user.gid, "home": user.home, "shell": user.shell},
        )
        for user in extras
    ]


def empty_password(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    findings = [
        Finding(
            Status.FAIL,
            f"user:{user.name}",
            f"account {user.name} has an empty password field in /etc/passwd: "
            "anyone may log in as it without a password",
            {"file": "/etc/passwd", "uid": user.uid, "shell": user.shell},
        )
        for user in facts.users
        if user.password_state is PasswordState.EMPTY
    ]
    reported = {finding.resource.removeprefix("user:") for finding in findings}
    try:
        shadow = facts.shadow
    except NoPrivilege as exc:
        # What /etc/passwd showed still counts; the shadow half is reported as unknown.
        return [*findings, Finding(Status.NO_PRIVILEGE, "file:/etc/shadow", str(exc))]
    except NotApplicable:
        shadow = ()
    findings += [
        Finding(
            Status.FAIL,
            f"user:{entry.name}",
            f"account {entry.name} has an empty password in /etc/shadow: "
            "anyone may log in as it without a password",
            {"file": "/etc/shadow"},
        )
        for entry in shadow
        if entry.password_state is PasswordState.EMPTY and entry.name not in reported
    ]
    if findings:
        return findings
    return [
        Finding(
            Status.PASS,
            "host",
            "no account has an empty password",
            {"accounts_checked": len(facts.users), "shadow_entries_checked": len(shadow)},
        )
    ]


def weak_password_hash(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    allowed = set(params["allowed_schemes"])
    hashed = [e for e in facts.shadow if e.password_state is PasswordState.HASHED]
    weak = [e for e in hashed if e.hash_scheme not in allowed]
    if not weak:
        return [
            Finding(
                Status.PASS,
                "host",
                f"every password hash ({len(hashed)}) uses an accepted scheme",
                {"schemes": sorted({str(e.hash_scheme) for e in hashed})},
            )
        ]
    return [
        Finding(
            Status.FAIL,
            f"user:{entry.name}",
            f"the password of {entry.name} is stored with the weak scheme {entry.hash_scheme}",
            {"scheme": entry.hash_scheme, "accepted": sorted(allowed)},
        )
        for entry in weak
    ]


def password_age(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    max_days = params["max_days"]
    today = facts.clock.days_since_epoch
    findings = []
    checked = 0
    for entry in facts.shadow:
        if entry.password_state is not PasswordState.HASHED:
            continue
        checked += 1
        if entry.last_change_days is None:
            findings.append(
                Finding(
                    Status.FAIL,
                    f"user:{entry.name}",
                    f"account {entry.name} has a password but no recorded date of its last "
                    "change, so its age cannot be held to the policy",
                    {"max_days": max_days},
                )
            )
        elif entry.last_change_days != 0 and today - entry.last_change_days > max_days:
            # 0 means the password must be changed at the next login: already taken care of.
            age = today - entry.last_change_days
            findings.append(
                Finding(
                    Status.FAIL,
                    f"user:{entry.name}",
                    f"the password of {entry.name} was last changed {age} days ago "
                    f"(the policy allows {max_days})",
                    {"age_days": age, "max_days": max_days},
                )
            )
    if findings:
        return findings
    return [
        Finding(
            Status.PASS,
            "host",
            f"no password ({checked} checked) is older than {max_days} days",
            {"accounts_checked": checked, "max_days": max_days},
        )
    ]


def _is_person(uid: int, uid_min: int, name: str, can_log_in: bool) -> bool:
    return uid >= uid_min and uid != NOBODY_UID and name != "nobody" and can_log_in


def unapproved(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    approved = set(params["approved"])
    uid_min = facts.login_defs.uid_min or DEFAULT_UID_MIN
    people = [
        u for u in facts.users if _is_person(u.uid, uid_min, u.name, u.can_log_in_interactively)
    ]
    names = sorted(u.name for u in people)
    if not approved:
        return [
            Finding(
                Status.NOT_APPLICABLE,
                "host",
                "the policy lists no approved accounts, so no account can be called unexpected; "
                "set the parameter approved to the accounts an administrator added",
                {"login_accounts": names},
            )
        ]
    strangers = [u for u in people if u.name not in approved]
    if not strangers:
        return [
            Finding(
                Status.PASS,
                "host",
                f"all {len(people)} login accounts are on the approved list",
                {"login_accounts": names},
            )
        ]
    return [
        Finding(
            Status.FAIL,
            f"user:{user.name}",
            f"login account {user.name} (UID {user.uid}) is not on the approved list",
            {"uid": user.uid, "home": user.home, "shell": user.shell},
        )
        for user in strangers
    ]


def duplicate_uid(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    names_by_uid: dict[int, list[str]] = defaultdict(list)
    for user in facts.users:
        names_by_uid[user.uid].append(user.name)
    # UID 0 is judged by accounts.uid0_extra; reporting it twice would double one fault.
    shared = {uid: names for uid, names in names_by_uid.items() if len(names) > 1 and uid != 0}
    if not shared:
        return [Finding(Status.PASS, "host", "every account has a UID of its own")]
    return [
        Finding(
            Status.FAIL,
            f"uid:{uid}",
            f"accounts {', '.join(names)} share UID {uid}, so their actions cannot be told apart",
            {"uid": uid, "accounts": names},
        )
        for uid, names in sorted(shared.items())
    ]
