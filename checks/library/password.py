"""The system password policy: length, character classes, maximum age."""

from __future__ import annotations

from typing import Any

from checks.facts import PwQuality
from checks.factset import Facts
from checks.messages import say
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
        return say(
            Status.PASS,
            "policy:min_length",
            "password.min_length_ok",
            evidence,
            length=best,
            required=min_length,
        )
    message_id = "password.min_length_unset" if best is None else "password.min_length_short"
    if quality.minlen is not None and not in_effect:
        message_id += "_pwquality_unused"
    params = {} if best is None else {"length": best, "required": min_length}
    return say(Status.FAIL, "policy:min_length", message_id, evidence, **params)


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
        return say(
            Status.PASS,
            "policy:complexity",
            "password.classes_ok",
            evidence,
            classes=classes,
            required=min_classes,
        )
    if not in_effect:
        return say(
            Status.FAIL,
            "policy:complexity",
            "password.no_quality_module",
            evidence,
            required=min_classes,
        )
    return say(
        Status.FAIL,
        "policy:complexity",
        "password.classes_few",
        evidence,
        classes=classes,
        required=min_classes,
    )


def _max_age_finding(facts: Facts, max_days: int) -> Finding:
    configured = facts.login_defs.pass_max_days
    evidence = {"PASS_MAX_DAYS": configured, "allowed": max_days}
    if configured is not None and 0 <= configured <= max_days:
        return say(
            Status.PASS,
            "policy:max_age",
            "password.max_age_ok",
            evidence,
            days=configured,
            max_days=max_days,
        )
    if configured is None or configured < 0 or configured >= _NO_EXPIRY:
        return say(
            Status.FAIL, "policy:max_age", "password.never_expire", evidence, value=configured
        )
    return say(
        Status.FAIL,
        "policy:max_age",
        "password.max_age_long",
        evidence,
        days=configured,
        max_days=max_days,
    )


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
    return say(Status.NOT_APPLICABLE, "host", "password.no_pam_stack", stack=stack)


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
        files = ", ".join(state.pam_files_read)
        return [say(Status.FAIL, "policy:lockout", "password.no_lockout", evidence, files=files)]
    if state.deny == 0:
        return [
            say(
                Status.FAIL,
                "policy:lockout",
                "password.lockout_never",
                evidence,
                module=state.module,
            )
        ]
    if state.deny > most:
        return [
            say(
                Status.FAIL,
                "policy:lockout",
                "password.lockout_late",
                evidence,
                deny=state.deny,
                allowed=most,
            )
        ]
    if state.unlock_time == 0:
        return [
            say(
                Status.PASS,
                "policy:lockout",
                "password.lockout_until_unlocked",
                evidence,
                deny=state.deny,
                module=state.module,
            )
        ]
    return [
        say(
            Status.PASS,
            "policy:lockout",
            "password.lockout_for",
            evidence,
            seconds=state.unlock_time,
            deny=state.deny,
            module=state.module,
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
            say(
                Status.PASS,
                "policy:history",
                "password.history_ok",
                evidence,
                remember=state.remember,
                module=state.module,
            )
        ]
    if state.module is None:
        files = ", ".join(state.pam_files_read)
        return [say(Status.FAIL, "policy:history", "password.no_history", evidence, files=files)]
    return [
        say(
            Status.FAIL,
            "policy:history",
            "password.history_short",
            evidence,
            module=state.module,
            remember=state.remember,
            required=least,
        )
    ]
