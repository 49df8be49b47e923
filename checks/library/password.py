"""The system password policy: length, character classes, maximum age."""

from __future__ import annotations

from typing import Any

from checks.facts import PwQuality
from checks.factset import Facts
from checks.model import Finding, Status

# What each PAM module enforces when its configuration leaves minlen unset.
_MODULE_DEFAULT_MINLEN = {"pam_pwquality.so": 8, "pam_cracklib.so": 9}
_NO_EXPIRY = 99999


def _pwquality_in_effect(quality: PwQuality) -> bool:
    """pwquality settings bind only when PAM uses the module; with no PAM files to look at (a
    minimal host tree) the configuration is taken at its word."""
    if quality.pam_module is not None:
        return True
    return not quality.pam_files_read and bool(quality.sources)


def _length_finding(facts: Facts, min_length: int) -> Finding:
    login_defs = facts.login_defs
    quality = facts.pwquality
    in_effect = _pwquality_in_effect(quality)
    quality_minlen = quality.minlen
    if in_effect and quality_minlen is None and quality.pam_module is not None:
        quality_minlen = _MODULE_DEFAULT_MINLEN.get(quality.pam_module)
    evidence: dict[str, Any] = {
        "PASS_MIN_LEN": login_defs.pass_min_len,
        "pwquality_minlen": quality_minlen if in_effect else None,
        "pam_module": quality.pam_module,
        "sources": list(quality.sources),
        "required": min_length,
    }
    candidates = [n for n in (login_defs.pass_min_len, quality_minlen if in_effect else None) if n]
    best = max(candidates, default=None)
    if best is not None and best >= min_length:
        return Finding(
            Status.PASS,
            "policy:min_length",
            f"passwords must have at least {best} characters (policy: {min_length})",
            evidence,
        )
    if best is None:
        message = "no minimum password length is configured"
    else:
        message = f"the minimum password length is {best}, below the policy's {min_length}"
    if quality.minlen is not None and not in_effect:
        message += "; pwquality.conf sets minlen, but no PAM password stack uses pam_pwquality"
    return Finding(Status.FAIL, "policy:min_length", message, evidence)


def _classes_finding(facts: Facts, min_classes: int) -> Finding:
    quality = facts.pwquality
    in_effect = _pwquality_in_effect(quality)
    by_minclass = (quality.minclass or 0) if in_effect else 0
    by_credit = quality.required_classes_by_credit if in_effect else 0
    classes = max(by_minclass, by_credit)
    evidence = {
        "minclass": quality.minclass,
        "dcredit": quality.dcredit,
        "ucredit": quality.ucredit,
        "lcredit": quality.lcredit,
        "ocredit": quality.ocredit,
        "pam_module": quality.pam_module,
        "in_effect": in_effect,
        "required": min_classes,
    }
    if classes >= min_classes:
        return Finding(
            Status.PASS,
            "policy:complexity",
            f"passwords must mix at least {classes} character classes (policy: {min_classes})",
            evidence,
        )
    if not in_effect:
        message = (
            "no password quality module (pam_pwquality) is in effect, so passwords need not mix "
            f"letters, digits and symbols (policy: {min_classes} classes)"
        )
    else:
        message = (
            f"passwords must mix only {classes} character classes (policy: {min_classes}); "
            "set minclass or negative credits"
        )
    return Finding(Status.FAIL, "policy:complexity", message, evidence)


def _max_age_finding(facts: Facts, max_days: int) -> Finding:
    configured = facts.login_defs.pass_max_days
    evidence = {"PASS_MAX_DAYS": configured, "allowed": max_days}
    if configured is not None and 0 <= configured <= max_days:
        return Finding(
            Status.PASS,
            "policy:max_age",
            f"new passwords expire after {configured} days (policy: at most {max_days})",
            evidence,
        )
    if configured is None or configured < 0 or configured >= _NO_EXPIRY:
        message = f"passwords never expire (PASS_MAX_DAYS unset or {configured})"
    else:
        message = f"passwords expire after {configured} days, later than the policy's {max_days}"
    return Finding(Status.FAIL, "policy:max_age", message, evidence)


def policy(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    return [
        _length_finding(facts, params["min_length"]),
        _classes_finding(facts, params["min_classes"]),
        _max_age_finding(facts, params["max_days"]),
    ]


def _no_pam(files: tuple[str, ...], stack: str) -> Finding | None:
    """A tree without any PAM stack cannot be judged: nothing there to configure."""
    if files:
        return None
    return Finding(
        Status.NOT_APPLICABLE,
        "host",
        f"no PAM {stack} stack was found (common-{stack}, system-auth, password-auth)",
    )


def lockout(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    state = facts.pam_lockout
    missing = _no_pam(state.pam_files_read, "auth")
    if missing is not None:
        return [missing]
    most = params["max_attempts"]
    evidence: dict[str, Any] = {
        "module": state.module,
        "deny": state.deny,
        "unlock_time": state.unlock_time,
        "sources": list(state.sources),
        "pam_files": list(state.pam_files_read),
        "allowed": most,
    }
    if state.module is None or state.deny is None:
        message = (
            "no lockout module (pam_faillock) is in the PAM auth stack "
            f"({', '.join(state.pam_files_read)}): password guessing is unlimited"
        )
        return [Finding(Status.FAIL, "policy:lockout", message, evidence)]
    if state.deny == 0:
        message = f"{state.module} is in the auth stack with deny=0: it never locks an account"
        return [Finding(Status.FAIL, "policy:lockout", message, evidence)]
    if state.deny > most:
        message = f"accounts lock only after {state.deny} wrong passwords (policy: at most {most})"
        return [Finding(Status.FAIL, "policy:lockout", message, evidence)]
    unlock = (
        "until an administrator unlocks them"
        if state.unlock_time == 0
        else f"for {state.unlock_time} s"
    )
    return [
        Finding(
            Status.PASS,
            "policy:lockout",
            f"accounts lock {unlock} after {state.deny} wrong passwords ({state.module})",
            evidence,
        )
    ]


def history(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    state = facts.pam_history
    missing = _no_pam(state.pam_files_read, "password")
    if missing is not None:
        return [missing]
    least = params["min_remembered"]
    evidence: dict[str, Any] = {
        "module": state.module,
        "remember": state.remember,
        "sources": list(state.sources),
        "pam_files": list(state.pam_files_read),
        "required": least,
    }
    if state.remember >= least:
        return [
            Finding(
                Status.PASS,
                "policy:history",
                f"a new password may not repeat the last {state.remember} ({state.module})",
                evidence,
            )
        ]
    if state.module is None:
        message = (
            "no password history is kept (no pam_pwhistory, no pam_unix remember= in "
            f"{', '.join(state.pam_files_read)}): an old password may be set again"
        )
    else:
        message = f"{state.module} remembers only {state.remember} old passwords (policy: {least})"
    return [Finding(Status.FAIL, "policy:history", message, evidence)]
