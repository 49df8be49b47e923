"""OpenSSH server settings."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Status

# OpenSSH's own defaults since 7.0, used when the configuration does not say.
_DEFAULT_PERMIT_ROOT_LOGIN = "prohibit-password"
_DEFAULT_PERMIT_EMPTY_PASSWORDS = "no"


def root_login(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    config = facts.sshd_config
    value = config.get("PermitRootLogin", _DEFAULT_PERMIT_ROOT_LOGIN).lower()
    evidence = {"PermitRootLogin": value, "files": list(config.files_read)}
    if value == "yes":
        return [say(Status.FAIL, "service:sshd", "ssh.root_login_allowed", evidence)]
    return [say(Status.PASS, "service:sshd", "ssh.root_login_refused", evidence, value=value)]


def empty_passwords(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    config = facts.sshd_config
    value = config.get("PermitEmptyPasswords", _DEFAULT_PERMIT_EMPTY_PASSWORDS).lower()
    evidence = {"PermitEmptyPasswords": value, "files": list(config.files_read)}
    if value == "yes":
        return [say(Status.FAIL, "service:sshd", "ssh.empty_passwords_allowed", evidence)]
    return [say(Status.PASS, "service:sshd", "ssh.empty_passwords_refused", evidence)]


# OpenSSH's default MaxAuthTries; CIS Debian 12 (5.2.x) asks for 4 or fewer.
_DEFAULT_MAX_AUTH_TRIES = "6"
_DEFAULT_PASSWORD_AUTHENTICATION = "yes"


def authentication(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    """PasswordAuthentication as the policy wants it, and few password guesses a connection."""
    config = facts.sshd_config
    files = list(config.files_read)
    findings = []
    password = config.get("PasswordAuthentication", _DEFAULT_PASSWORD_AUTHENTICATION).lower()
    evidence = {"PasswordAuthentication": password, "files": files}
    if password == "yes" and not params["password_authentication_allowed"]:
        findings.append(
            say(Status.FAIL, "ssh:PasswordAuthentication", "ssh.passwords_accepted", evidence)
        )
    else:
        findings.append(
            say(
                Status.PASS,
                "ssh:PasswordAuthentication",
                "ssh.password_authentication_allowed",
                evidence,
                value=password,
            )
        )
    raw = config.get("MaxAuthTries", _DEFAULT_MAX_AUTH_TRIES)
    limit = params["max_auth_tries"]
    tries = int(raw) if raw.isdigit() else None
    evidence = {"MaxAuthTries": raw, "allowed": limit, "files": files}
    if tries is None or tries > limit:
        findings.append(
            say(
                Status.FAIL,
                "ssh:MaxAuthTries",
                "ssh.max_auth_tries_high",
                evidence,
                tries=raw,
                limit=limit,
            )
        )
    else:
        findings.append(
            say(
                Status.PASS,
                "ssh:MaxAuthTries",
                "ssh.max_auth_tries_ok",
                evidence,
                tries=tries,
                limit=limit,
            )
        )
    return findings


def _administrators(facts: Facts, admin_groups: set[str]) -> set[str]:
    users = facts.users  # first: a broken /etc/passwd is the error to report
    groups = [g for g in facts.groups if g.name in admin_groups]
    names = {member for group in groups for member in group.members}
    gids = {g.gid for g in groups}
    names |= {u.name for u in users if u.uid == 0 or u.gid in gids}
    return names


def authorized_keys(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    """Keys that open root's and the administrators' accounts are on the approved list (E15)."""
    admins = _administrators(facts, set(params["admin_groups"]))
    keys = [k for k in facts.authorized_keys if k.account in admins]
    approved = set(params["approved_keys"])
    listed = [
        {
            "account": k.account,
            "type": k.key_type,
            "fingerprint": k.fingerprint,
            "comment": k.comment,
        }
        for k in keys
    ]
    if not approved:
        if not keys:
            return [say(Status.PASS, "host", "ssh.no_admin_keys")]
        return [
            say(
                Status.NOT_APPLICABLE,
                "host",
                "ssh.no_approved_keys",
                {"keys": listed[:50]},
                count=len(keys),
            )
        ]
    strangers = [k for k in keys if k.fingerprint not in approved]
    if not strangers:
        return [
            say(
                Status.PASS,
                "host",
                "ssh.admin_keys_approved",
                {"keys": listed[:50]},
                count=len(keys),
            )
        ]
    return [
        say(
            Status.FAIL,
            f"sshkey:{key.account}:{key.fingerprint}",
            "ssh.key_unapproved",
            {"account": key.account, "file": key.path, "fingerprint": key.fingerprint},
            file=key.path,
            key=f"{key.key_type} {key.fingerprint}{', ' + key.comment if key.comment else ''}",
            user=key.account,
        )
        for key in strangers
    ]
