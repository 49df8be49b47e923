"""OpenSSH server settings."""

from __future__ import annotations

from typing import Any

from checks.factset import Facts
from checks.model import Finding, Status

# OpenSSH's own defaults since 7.0, used when the configuration does not say.
_DEFAULT_PERMIT_ROOT_LOGIN = "prohibit-password"
_DEFAULT_PERMIT_EMPTY_PASSWORDS = "no"


def root_login(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    config = facts.sshd_config
    value = config.get("PermitRootLogin", _DEFAULT_PERMIT_ROOT_LOGIN).lower()
    evidence = {"PermitRootLogin": value, "files": list(config.files_read)}
    if value == "yes":
        return [
            Finding(
                Status.FAIL,
                "service:sshd",
                "the SSH server lets root log in with a password (PermitRootLogin yes)",
                evidence,
            )
        ]
    return [
        Finding(
            Status.PASS,
            "service:sshd",
            f"the SSH server does not let root log in with a password (PermitRootLogin {value})",
            evidence,
        )
    ]


def empty_passwords(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    config = facts.sshd_config
    value = config.get("PermitEmptyPasswords", _DEFAULT_PERMIT_EMPTY_PASSWORDS).lower()
    evidence = {"PermitEmptyPasswords": value, "files": list(config.files_read)}
    if value == "yes":
        return [
            Finding(
                Status.FAIL,
                "service:sshd",
                "the SSH server accepts accounts with empty passwords (PermitEmptyPasswords yes)",
                evidence,
            )
        ]
    return [
        Finding(
            Status.PASS,
            "service:sshd",
            "the SSH server refuses empty passwords",
            evidence,
        )
    ]
