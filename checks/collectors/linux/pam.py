"""Lockout after failed logins and password history, from the PAM stacks and their files.

Debian keeps the stacks every service includes in /etc/pam.d/common-auth and common-password;
the Red Hat family in system-auth and password-auth. pam_faillock reads
/etc/security/faillock.conf and pam_pwhistory /etc/security/pwhistory.conf (Linux-PAM 1.5);
arguments on the module's line win over either file, and a setting set nowhere takes the
module's compiled-in default.
"""

from __future__ import annotations

from checks.collectors.linux.pwquality import pam_tokens
from checks.facts import PamHistory, PamLockout
from checks.host import HostContext

AUTH_FILES = ("/etc/pam.d/common-auth", "/etc/pam.d/system-auth", "/etc/pam.d/password-auth")
PASSWORD_FILES = (
    "/etc/pam.d/common-password",
    "/etc/pam.d/system-auth",
    "/etc/pam.d/password-auth",
)
FAILLOCK_CONF = "/etc/security/faillock.conf"
PWHISTORY_CONF = "/etc/security/pwhistory.conf"
# pam_faillock(8): deny=3, unlock_time=600 when set nowhere; pam_pwhistory(8): remember=10.
FAILLOCK_DEFAULTS = {"deny": "3", "unlock_time": "600"}
PWHISTORY_DEFAULT_REMEMBER = 10
# pam_tally2 (older Red Hat and Debian) locks only when given deny=.
TALLY2_DEFAULTS = {"deny": "0", "unlock_time": "0"}


def _settings(words: list[str]) -> dict[str, str]:
    """Module arguments as key -> value; a bare flag maps to ""."""
    found: dict[str, str] = {}
    for word in words:
        key, _, value = word.partition("=")
        found[key.strip()] = value.strip()
    return found


def parse_conf(text: str) -> dict[str, str]:
    """faillock.conf and pwhistory.conf: "key = value" or a bare flag, # comments."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def stack_modules(text: str, stack: str) -> list[tuple[str, dict[str, str]]]:
    """The modules of one stack type ("auth", "password") in a PAM file, in order, with their
    arguments; a "-" prefix (ignore a missing module) counts as the line itself."""
    modules: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        tokens = pam_tokens(raw.split("#", 1)[0].strip())
        if len(tokens) < 3 or tokens[0].lstrip("-") != stack:
            continue
        modules.append((tokens[2].rsplit("/", 1)[-1], _settings(tokens[3:])))
    return modules


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def collect_pam_lockout(host: HostContext) -> PamLockout:
    read: list[str] = []
    for path in AUTH_FILES:
        text = host.read_optional(path)
        if text is None:
            continue
        read.append(path)
        for module, args in stack_modules(text, "auth"):
            if module == "pam_faillock.so":
                conf_text = host.read_optional(FAILLOCK_CONF)
                conf = parse_conf(conf_text or "")
                sources = [path] + ([FAILLOCK_CONF] if conf_text is not None else [])
                merged = {**FAILLOCK_DEFAULTS, **conf, **args}
                return PamLockout(
                    module=module,
                    deny=_int(merged["deny"]),
                    unlock_time=_int(merged["unlock_time"]),
                    pam_files_read=tuple(read),
                    sources=tuple(sources),
                )
            if module == "pam_tally2.so":
                return PamLockout(
                    module=module,
                    deny=_int({**TALLY2_DEFAULTS, **args}["deny"]),
                    unlock_time=_int({**TALLY2_DEFAULTS, **args}["unlock_time"]),
                    pam_files_read=tuple(read),
                    sources=(path,),
                )
    return PamLockout(None, None, None, tuple(read), ())


def collect_pam_history(host: HostContext) -> PamHistory:
    read: list[str] = []
    for path in PASSWORD_FILES:
        text = host.read_optional(path)
        if text is None:
            continue
        read.append(path)
        for module, args in stack_modules(text, "password"):
            if module == "pam_pwhistory.so":
                conf_text = host.read_optional(PWHISTORY_CONF)
                merged = {**parse_conf(conf_text or ""), **args}
                remember = _int(merged.get("remember", str(PWHISTORY_DEFAULT_REMEMBER)))
                sources = [path] + ([PWHISTORY_CONF] if conf_text is not None else [])
                return PamHistory(
                    module=module,
                    # An unreadable number is taken as no history rather than guessed.
                    remember=remember or 0,
                    pam_files_read=tuple(read),
                    sources=tuple(sources),
                )
            # pam_unix keeps old hashes in /etc/security/opasswd only when told remember=N.
            remember = _int(args.get("remember", "0")) if module == "pam_unix.so" else None
            if remember:
                return PamHistory(module, remember, tuple(read), (path,))
    return PamHistory(None, 0, tuple(read), ())
