"""Who sudo lets do what: the user specifications of /etc/sudoers and its included files.

Only what the checks judge is kept: the principal (an account, %group or alias name), whether
the rule grants every command (ALL) and whether it asks no password (NOPASSWD). Aliases are
kept by name; Defaults lines are skipped. See sudoers(5).
"""

from __future__ import annotations

import re

from checks.errors import NotApplicable
from checks.facts import SudoRule
from checks.host import HostContext
from checks.messages import said

SUDOERS = "/etc/sudoers"
_INCLUDE = re.compile(r"^[#@]include(dir)?\s+(\S+)")
_SKIP = ("Defaults", "User_Alias", "Runas_Alias", "Host_Alias", "Cmnd_Alias", "Cmd_Alias")
_MAX_DEPTH = 8


def _logical_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def parse_rules(path: str, text: str) -> list[SudoRule]:
    rules = []
    for raw in _logical_lines(text):
        line = raw.strip()
        if not line or _INCLUDE.match(line) or line.startswith("#") or line.startswith(_SKIP):
            continue
        who, sep, rest = line.partition("=")
        if not sep:
            continue
        principals = [p.strip() for p in who.split()[0].split(",") if p.strip()] if who else []
        # After "=": optional (runas), tags such as NOPASSWD:, then the command list.
        spec = re.sub(r"^\s*\([^)]*\)", "", rest.split("=", 1)[-1] if "=" in rest else rest)
        nopasswd = "NOPASSWD:" in spec
        commands = re.sub(r"\b[A-Z_]+:", "", spec)
        all_commands = any(c.strip() == "ALL" for c in commands.split(","))
        rules += [SudoRule(path, p, all_commands, nopasswd) for p in principals]
    return rules


def _read(host: HostContext, path: str, depth: int, rules: list[SudoRule]) -> None:
    text = host.read_optional(path)
    if text is None:
        return
    rules += parse_rules(path, text)
    for raw in _logical_lines(text):
        match = _INCLUDE.match(raw.strip())
        if match is None or depth >= _MAX_DEPTH:
            continue
        target = match.group(2)
        if match.group(1):  # includedir: every file without a dot or a trailing ~
            folder = host.path(target)
            names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
            for name in names:
                if "." not in name and not name.endswith("~"):
                    _read(host, f"{target.rstrip('/')}/{name}", depth + 1, rules)
        else:
            _read(host, target, depth + 1, rules)


def collect_sudo_rules(host: HostContext) -> tuple[SudoRule, ...]:
    if not host.path(SUDOERS).exists():
        raise said(NotApplicable, "facts.no_sudo", path=SUDOERS)
    rules: list[SudoRule] = []
    _read(host, SUDOERS, 0, rules)
    return tuple(rules)
