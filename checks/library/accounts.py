"""Account checks: who can be root, who has no password, who should not be there."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from checks.errors import NoPrivilege, NotApplicable, ParameterError
from checks.facts import PasswordState
from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status

DEFAULT_UID_MIN = 1000
NOBODY_UID = 65534


def uid0_extra(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    allowed = set(params["allowed"])
    extras = [u for u in facts.users if u.uid == 0 and u.name != "root" and u.name not in allowed]
    if not extras:
        return [say(Status.PASS, "host", "accounts.uid0_only_root")]
    return [
        say(
            Status.FAIL,
            f"user:{user.name}",
            "accounts.uid0_extra",
            {"uid": user.uid, "gid": user.gid, "home": user.home, "shell": user.shell},
            user=user.name,
        )
        for user in extras
    ]


def empty_password(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    findings = [
        say(
            Status.FAIL,
            f"user:{user.name}",
            "accounts.empty_password_passwd",
            {"file": "/etc/passwd", "uid": user.uid, "shell": user.shell},
            user=user.name,
        )
        for user in facts.users
        if user.password_state is PasswordState.EMPTY
    ]
    reported = {finding.resource.removeprefix("user:") for finding in findings}
    try:
        shadow = facts.shadow
    except NoPrivilege as exc:
        # What /etc/passwd showed still counts; the shadow half is reported as unknown.
        unread = Finding(
            Status.NO_PRIVILEGE,
            "file:/etc/shadow",
            str(exc),
            message_id=exc.message_id,
            params=exc.params,
        )
        return [*findings, unread]
    except NotApplicable:
        shadow = ()
    findings += [
        say(
            Status.FAIL,
            f"user:{entry.name}",
            "accounts.empty_password_shadow",
            {"file": "/etc/shadow"},
            user=entry.name,
        )
        for entry in shadow
        if entry.password_state is PasswordState.EMPTY and entry.name not in reported
    ]
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "accounts.no_empty_password",
            {"accounts_checked": len(facts.users), "shadow_entries_checked": len(shadow)},
        )
    ]


def weak_password_hash(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    allowed = set(params["allowed_schemes"])
    hashed = [e for e in facts.shadow if e.password_state is PasswordState.HASHED]
    weak = [e for e in hashed if e.hash_scheme not in allowed]
    if not weak:
        return [
            say(
                Status.PASS,
                "host",
                "accounts.hash_schemes_accepted",
                {"schemes": sorted({str(e.hash_scheme) for e in hashed})},
                count=len(hashed),
            )
        ]
    return [
        say(
            Status.FAIL,
            f"user:{entry.name}",
            "accounts.hash_scheme_weak",
            {"scheme": entry.hash_scheme, "accepted": sorted(allowed)},
            user=entry.name,
            scheme=entry.hash_scheme,
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
                say(
                    Status.FAIL,
                    f"user:{entry.name}",
                    "accounts.password_age_unknown",
                    {"max_days": max_days},
                    user=entry.name,
                )
            )
        elif entry.last_change_days != 0 and today - entry.last_change_days > max_days:
            # 0 means the password must be changed at the next login: already taken care of.
            age = today - entry.last_change_days
            findings.append(
                say(
                    Status.FAIL,
                    f"user:{entry.name}",
                    "accounts.password_too_old",
                    {"age_days": age, "max_days": max_days},
                    user=entry.name,
                    age=age,
                    max_days=max_days,
                )
            )
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "accounts.password_age_ok",
            {"accounts_checked": checked, "max_days": max_days},
            count=checked,
            max_days=max_days,
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
            say(
                Status.NOT_APPLICABLE,
                "host",
                "accounts.no_approved_list",
                {"login_accounts": names},
            )
        ]
    strangers = [u for u in people if u.name not in approved]
    if not strangers:
        return [
            say(
                Status.PASS,
                "host",
                "accounts.all_approved",
                {"login_accounts": names},
                count=len(people),
            )
        ]
    return [
        say(
            Status.FAIL,
            f"user:{user.name}",
            "accounts.unapproved",
            {"uid": user.uid, "home": user.home, "shell": user.shell},
            user=user.name,
            uid=user.uid,
        )
        for user in strangers
    ]


def duplicate_uid(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    names_by_uid: dict[int, list[str]] = defaultdict(list)
    for user in facts.users:
        names_by_uid[user.uid].append(user.name)
    # UID 0 counts too: accounts.uid0_extra says the second one is root, this check says the
    # two cannot be told apart in logs and file ownership (issue 12).
    shared = {uid: names for uid, names in names_by_uid.items() if len(names) > 1}
    if not shared:
        return [say(Status.PASS, "host", "accounts.uids_unique")]
    return [
        say(
            Status.FAIL,
            f"uid:{uid}",
            "accounts.uid_shared",
            {"uid": uid, "accounts": names},
            users=", ".join(names),
            uid=uid,
        )
        for uid, names in sorted(shared.items())
    ]


# One sentence per candidate source (the fact's `kind`), in English and Chinese: the console
# shows the Chinese one from the evidence. {account} is the account's name.
WEAK_PASSWORD_SENTENCES: dict[str, tuple[str, str]] = {
    "vendor default": (
        "account {account} still accepts a vendor's factory default password",
        "账户 {account} 仍可使用厂商出厂默认密码登录",
    ),
    "common weak": (
        "account {account} accepts one of the most common weak passwords in published leaks",
        "账户 {account} 使用了泄露数据中最常见的弱密码之一",
    ),
    "same as the account name": (
        "account {account} accepts a password made from its own name",
        "账户 {account} 的密码由账户名构成",
    ),
    "organisation word": (
        "account {account} accepts a password made from the organisation's own words",
        "账户 {account} 的密码由本单位名称等常用词构成",
    ),
}


# The message id of each source's sentence (checks/messages.py holds the same words).
WEAK_PASSWORD_IDS: dict[str, str] = {
    "vendor default": "accounts.weak_password_vendor_default",
    "common weak": "accounts.weak_password_common",
    "same as the account name": "accounts.weak_password_own_name",
    "organisation word": "accounts.weak_password_organisation_word",
}
# A sudo rule's grant, (every command, no password), as its sentence's id.
_SUDO_GRANTS: dict[tuple[bool, bool], str] = {
    (True, False): "accounts.sudo_all_commands",
    (False, True): "accounts.sudo_no_password",
    (True, True): "accounts.sudo_all_commands_no_password",
}


def weak_password_sentence(kind: str, account: str) -> tuple[str, str]:
    """The English and Chinese sentence for a weak password of this kind."""
    english, chinese = WEAK_PASSWORD_SENTENCES.get(
        kind,
        (
            f"account {{account}} accepts a weak password ({kind})",
            f"账户 {{account}} 使用弱密码({kind})",
        ),
    )
    return english.format(account=account), chinese.format(account=account)


def weak_password(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    weak = facts.weak_passwords(params["organisation_words"])
    findings = []
    for match in weak.matches:
        english, chinese = weak_password_sentence(match.kind, match.account)
        findings.append(
            say(
                Status.FAIL,
                f"user:{match.account}",
                WEAK_PASSWORD_IDS[match.kind],
                {"kind": match.kind, "message_zh": chinese, "candidates_tried": weak.candidates},
                account=match.account,
            )
            if match.kind in WEAK_PASSWORD_IDS
            # A source this library does not name (a newer collector): its own words.
            else Finding(
                Status.FAIL,
                f"user:{match.account}",
                english,
                {"kind": match.kind, "message_zh": chinese, "candidates_tried": weak.candidates},
            )
        )
    findings += [
        say(Status.ERROR, f"user:{name}", "accounts.weak_password_untestable", user=name)
        for name in weak.unsupported
    ]
    if findings:
        return findings
    if not weak.accounts_tested:
        return [say(Status.PASS, "host", "accounts.no_guessable_password")]
    evidence: dict[str, Any] = {
        "accounts_tested": len(weak.accounts_tested),
        "candidates": weak.candidates,
    }
    if weak.incomplete:
        # Said as it is: the likeliest candidates are behind us, the rest come next scan.
        evidence["incomplete"] = dict(weak.incomplete)
        tried = min(n for _, n in weak.incomplete)
        return [
            say(
                Status.PASS,
                "host",
                "accounts.weak_password_none_so_far",
                evidence,
                count=len(weak.accounts_tested),
                slow=len(weak.incomplete),
                tried=tried,
                candidates=weak.candidates,
            )
        ]
    return [
        say(
            Status.PASS,
            "host",
            "accounts.weak_password_none",
            evidence,
            count=len(weak.accounts_tested),
            candidates=weak.candidates,
        )
    ]


def _date_days(text: str, name: str) -> int:
    """Days since 1970-01-01 of a YYYY-MM-DD parameter, the unit /etc/shadow counts in."""
    try:
        when = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise ParameterError(f"parameter {name} must be a date YYYY-MM-DD, got {text!r}") from exc
    return int(when.timestamp() // 86400)


def password_changed_since_handover(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    dates: list[tuple[str, str]] = [
        (name, params[name]) for name in ("go_live_date", "handover_date") if params[name]
    ]
    if not dates:
        return [say(Status.NOT_APPLICABLE, "host", "accounts.handover_no_date")]
    try:
        cutoffs = [(name, text, _date_days(text, name)) for name, text in dates]
    except ParameterError as exc:
        return [Finding(Status.ERROR, "host", str(exc))]
    name, text, cutoff = max(cutoffs, key=lambda item: item[2])
    only = set(params["accounts"])
    findings = []
    checked = 0
    for entry in facts.shadow:
        if entry.password_state is not PasswordState.HASHED:
            continue
        if only and entry.name not in only:
            continue
        checked += 1
        changed = entry.last_change_days
        if changed == 0:
            continue  # must change at next login: the old password is already refused
        if changed is None or changed < cutoff:
            when = "never recorded" if changed is None else _days_to_date(changed)
            findings.append(
                say(
                    Status.FAIL,
                    f"user:{entry.name}",
                    "accounts.password_before_handover"
                    if changed is not None
                    else "accounts.password_unrecorded_handover",
                    {"last_changed": when, name: text},
                    user=entry.name,
                    **({"when": when} if changed is not None else {}),
                    date_name=name.replace("_", " "),
                    date=text,
                )
            )
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "accounts.password_after_handover",
            {name: text, "accounts_checked": checked},
            count=checked,
            date_name=name.replace("_", " "),
            date=text,
        )
    ]


def _days_to_date(days: int) -> str:
    return datetime.fromtimestamp(days * 86400, UTC).strftime("%Y-%m-%d")


def admin_members(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    admin_groups = set(params["admin_groups"])
    approved = set(params["approved_admins"])
    users = facts.users
    groups = [g for g in facts.groups if g.name in admin_groups]
    members: dict[str, set[str]] = defaultdict(set)
    for group in groups:
        for member in group.members:
            members[member].add(group.name)
    gids = {g.gid: g.name for g in groups}
    for user in users:
        if user.gid in gids:
            members[user.name].add(gids[user.gid])  # a primary group counts as membership
    listed = {name: sorted(found) for name, found in sorted(members.items())}
    if not approved:
        return [
            say(Status.NOT_APPLICABLE, "host", "accounts.no_approved_admins", {"members": listed})
        ]
    strangers = {name: found for name, found in listed.items() if name not in approved}
    if not strangers:
        return [
            say(
                Status.PASS,
                "host",
                "accounts.admins_approved",
                {"members": listed},
                groups=", ".join(sorted(admin_groups)),
            )
        ]
    return [
        say(
            Status.FAIL,
            f"user:{name}",
            "accounts.admin_unapproved",
            {"groups": found, "approved_admins": sorted(approved)},
            user=name,
            groups=", ".join(found),
        )
        for name, found in strangers.items()
    ]


def unused(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    max_days = params["max_unused_days"]
    exempt = set(params["exempt"])
    users = facts.users
    logins = facts.last_logins
    if not logins.sources:
        return [say(Status.NOT_APPLICABLE, "host", "accounts.no_login_records")]
    uid_min = facts.login_defs.uid_min or DEFAULT_UID_MIN
    try:
        changed = {e.name: e.last_change_days for e in facts.shadow}
    except (NoPrivilege, NotApplicable):
        changed = {}
    now = facts.clock.now
    today = facts.clock.days_since_epoch
    findings = []
    people = [
        u
        for u in users
        if _is_person(u.uid, uid_min, u.name, u.can_log_in_interactively) and u.name not in exempt
    ]
    for user in people:
        last = logins.by_account.get(user.name)
        if last is not None:
            idle = (now - last).days
            if idle > max_days:
                findings.append(
                    say(
                        Status.FAIL,
                        f"user:{user.name}",
                        "accounts.unused",
                        {"last_login": last.isoformat(), "idle_days": idle},
                        user=user.name,
                        idle=idle,
                        max_days=max_days,
                    )
                )
            continue
        # Never logged in: only stale when the account itself is older than the limit, and
        # the password's last change is the best sign of the account's age shadow keeps.
        since = changed.get(user.name)
        if since is None or since == 0 or today - since > max_days:
            findings.append(
                say(
                    Status.FAIL,
                    f"user:{user.name}",
                    "accounts.never_logged_in",
                    {
                        "last_login": None,
                        "password_changed_days_ago": None if since is None else today - since,
                    },
                    user=user.name,
                    sources=", ".join(logins.sources),
                )
            )
    if findings:
        return findings
    return [
        say(
            Status.PASS,
            "host",
            "accounts.all_used",
            {"sources": list(logins.sources)},
            count=len(people),
            max_days=max_days,
        )
    ]


def added_since_baseline(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    known = set(params["baseline"])
    users = facts.users
    if not known:
        return [
            say(Status.NOT_APPLICABLE, "host", "accounts.no_baseline", {"accounts": len(users)})
        ]
    added = [u for u in users if u.name not in known]
    if not added:
        return [say(Status.PASS, "host", "accounts.none_added", count=len(users))]
    return [
        say(
            Status.FAIL,
            f"user:{u.name}",
            "accounts.added",
            {"uid": u.uid, "home": u.home, "shell": u.shell},
            user=u.name,
            uid=u.uid,
        )
        for u in added
    ]


def sudo_rules(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    """sudo rules that give every command, or commands without a password, to accounts the
    policy did not approve. Rules of the administrator groups are judged by
    accounts.admin_members (group membership); here, rules naming accounts or other groups."""
    approved = set(params["approved"])
    admin_groups = set(params["admin_groups"])
    users = facts.users  # first: a broken /etc/passwd is the error to report
    members = {g.name: set(g.members) for g in facts.groups}
    primary = {g.gid: g.name for g in facts.groups}
    for user in users:
        if user.gid in primary:
            members.setdefault(primary[user.gid], set()).add(user.name)
    findings = []
    rules = facts.sudo_rules
    for rule in rules:
        if not (rule.all_commands or rule.nopasswd):
            continue
        if rule.principal.startswith("%"):
            group = rule.principal[1:]
            if group in admin_groups:
                continue
            accounts = sorted(members.get(group, set()))
        else:
            accounts = [rule.principal]
        grants = _SUDO_GRANTS[(rule.all_commands, rule.nopasswd)]
        for account in accounts:
            if account in approved:
                continue
            findings.append(
                say(
                    Status.FAIL,
                    f"sudo:{account}",
                    grants,
                    {
                        "file": rule.source,
                        "principal": rule.principal,
                        "all_commands": rule.all_commands,
                        "nopasswd": rule.nopasswd,
                    },
                    file=rule.source,
                    user=account,
                    principal=rule.principal,
                )
            )
    if findings:
        return findings
    return [say(Status.PASS, "host", "accounts.sudo_rules_approved", {"rules": len(rules)})]
