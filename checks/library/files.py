"""Permissions of the files that hold accounts and password hashes."""

from __future__ import annotations

from typing import Any

from checks.facts import FileStat, PasswordState
from checks.factset import Facts
from checks.model import Finding, Severity, Status

_SECRET_FILES = {"/etc/shadow", "/etc/gshadow"}
_SECRET_GROUPS = {"root", "shadow"}


def _problems(file: FileStat) -> list[str]:
    assert file.mode is not None
    problems = []
    if file.uid != 0:
        problems.append(f"is owned by {file.owner or file.uid}, not root")
    if file.path in _SECRET_FILES:
        if file.mode & 0o007:
            problems.append("can be read or written by every account")
        if file.mode & 0o070 and file.gid != 0 and file.group not in _SECRET_GROUPS:
            problems.append(f"is open to group {file.group or file.gid}")
        if file.mode & 0o020:
            problems.append("can be written by its group")
    elif file.mode & 0o022:
        problems.append("can be written by accounts other than root")
    return problems


def _hashes_in_passwd(facts: Facts) -> Finding | None:
    """Hashes moved into /etc/passwd (pwunconv) are readable by every account: fail loudly."""
    hashed = [u.name for u in facts.users if u.password_state is PasswordState.HASHED]
    passwd = next((f for f in facts.sensitive_files if f.path == "/etc/passwd"), None)
    if not hashed or passwd is None or passwd.mode is None or not passwd.mode & 0o004:
        return None
    return Finding(
        Status.FAIL,
        "file:/etc/passwd",
        f"/etc/passwd holds the password hashes of {', '.join(hashed)} and every account can "
        "read it, so anyone on this host can try to crack them offline; run pwconv to move "
        "them into /etc/shadow",
        {"mode": f"{passwd.mode:04o}", "accounts": hashed},
        severity=Severity.CRITICAL,
    )


def account_file_permissions(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    findings = []
    loud = _hashes_in_passwd(facts)
    if loud is not None:
        findings.append(loud)
    checked = []
    for file in facts.sensitive_files:
        if not file.exists or file.mode is None:
            continue
        checked.append(file.path)
        problems = _problems(file)
        if problems:
            findings.append(
                Finding(
                    Status.FAIL,
                    f"file:{file.path}",
                    f"{file.path} {'; '.join(problems)}",
                    {
                        "mode": f"{file.mode:04o}",
                        "owner": file.owner or file.uid,
                        "group": file.group or file.gid,
                    },
                )
            )
    if findings:
        return findings
    return [
        Finding(
            Status.PASS,
            "host",
            "the account and password files have safe owners and permissions",
            {"files": checked},
        )
    ]
