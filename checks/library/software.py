"""Installed software against the policy's allow list, deny list and baseline; programs that
listen on the network from binaries no package installed."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any

from checks.facts import InstalledPackage, ListeningProgram
from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Severity, Status

# At most this many per-package findings; the rest are counted in one more finding.
MAX_PACKAGE_FINDINGS = 100

# Built-in deny categories (POLICY.md E17: games above all, and tools that hand the machine to
# someone outside). Patterns match package names (Linux) and program display names (Windows),
# without case; "section:" matches Debian's section.
DENY_CATALOG: dict[str, tuple[str, ...]] = {
    "games": (
        "section:games",
        "section:*/games",
        "steam",
        "steam-installer",
        "steam-launcher",
        "lutris",
        "playonlinux",
        "minecraft*",
        "supertux*",
        "0ad",
        "wesnoth*",
        "gnome-games",
        "kdegames",
        "aisleriot",
        "gnome-mines",
        "gnome-sudoku",
        "sl",
        # Windows programs, by the names their Uninstall entries show
        "wegame",
        "4399*",
        "*游戏*",
        "epic games launcher",
        "battle.net",
        "ea app",
        "origin",
        "ubisoft connect",
        "uplay",
        "league of legends",
        "英雄联盟*",
        "穿越火线*",
        "地下城与勇士*",
        "qq游戏*",
        "腾讯游戏*",
        "minecraft launcher",
    ),
    "remote_control": (
        "teamviewer*",
        "anydesk",
        "rustdesk",
        "todesk",
        "sunloginclient",
        "sunlogin*",
        "x11vnc",
        "tightvncserver",
        "tigervnc-standalone-server",
        "tigervnc-scraping-server",
        "realvnc-vnc-server",
        "vino",
        "xrdp",
        "nomachine",
        "dwservice",
        "向日葵*",
        "todesk*",
        "rustdesk*",
        "anydesk*",
        "ultraviewer*",
        "radmin*",
        "realvnc*",
        "tightvnc*",
        "ultravnc*",
    ),
    "p2p": (
        "transmission*",
        "qbittorrent*",
        "deluge*",
        "ktorrent",
        "rtorrent",
        "amule*",
        "frostwire",
        "vuze",
        "aria2",
        "xunlei*",
        "com.xunlei.*",
        "tixati",
        "迅雷*",
        "thunder*",
        "bittorrent*",
        "µtorrent*",
        "utorrent*",
        "电驴*",
        "emule*",
        "百度网盘*",
        "baidunetdisk*",
        # Clients not named above (ctorrent, mktorrent's kin) say what they are in their
        # description; the words are those of the protocols, not of libraries for them.
        "description:*bittorrent client*",
        "description:*torrent client*",
        "description:*peer-to-peer file sharing*",
        "description:*p2p file sharing*",
        "description:*edonkey*",
    ),
}


def signal_of(pattern: str) -> str:
    """Which of a package's signals a deny pattern reads: name, section or description."""
    head, sep, _ = pattern.partition(":")
    return head if sep and head in ("section", "description") else "name"


def _matches(package: InstalledPackage, pattern: str) -> bool:
    if pattern.startswith("section:"):
        return bool(package.section) and fnmatchcase(package.section, pattern[len("section:") :])
    if pattern.startswith("description:"):
        wanted = pattern[len("description:") :].casefold()
        return bool(package.description) and fnmatchcase(package.description.casefold(), wanted)
    # Windows shows programs by display name ("AnyDesk", "TeamViewer 15"): compared without
    # case, which changes nothing for Linux package names (always lower case).
    return fnmatchcase(package.name.casefold(), pattern.casefold())


def _capped(findings: list[Finding], message_id: str) -> list[Finding]:
    """The first findings, then one summary of the rest, said by ``message_id``."""
    if len(findings) <= MAX_PACKAGE_FINDINGS:
        return findings
    rest = findings[MAX_PACKAGE_FINDINGS:]
    summary = say(
        Status.FAIL,
        "packages:more",
        message_id,
        {"packages": [f.resource.removeprefix("package:") for f in rest][:1000]},
        count=len(rest),
    )
    return [*findings[:MAX_PACKAGE_FINDINGS], summary]


def _package_evidence(package: InstalledPackage) -> dict[str, Any]:
    return {
        "version": package.version,
        "architecture": package.architecture,
        "section": package.section,
        "description": package.description,
        "manager": package.manager,
    }


def allow_list(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    allowed = list(params["allowed"])
    packages = facts.packages
    if not allowed:
        return [
            say(
                Status.NOT_APPLICABLE,
                "host",
                "software.no_allow_list",
                {"installed": len(packages)},
            )
        ]
    outside = [p for p in packages if not any(_matches(p, pattern) for pattern in allowed)]
    if not outside:
        return [
            say(
                Status.PASS,
                "host",
                "software.all_allowed",
                {"installed": len(packages)},
                count=len(packages),
            )
        ]
    findings = [
        say(
            Status.FAIL,
            f"package:{p.name}",
            "software.not_allowed",
            _package_evidence(p),
            package=p.name,
        )
        for p in outside
    ]
    return _capped(findings, "software.more_not_allowed")


def deny_list(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    categories = list(params["denied_categories"])
    unknown = [c for c in categories if c not in DENY_CATALOG]
    rules: list[tuple[str, str]] = [
        (category, pattern) for category in categories for pattern in DENY_CATALOG.get(category, ())
    ]
    for entry in params["denied"]:
        category, sep, pattern = entry.partition(":")
        own = sep and category not in ("section", "description")
        rules.append((category, pattern) if own else ("policy", entry))
    exceptions = list(params["exceptions"])
    packages = facts.packages
    findings = []
    for package in packages:
        if any(_matches(package, pattern) for pattern in exceptions):
            continue
        hit = next(((c, p) for c, p in rules if _matches(package, p)), None)
        if hit is not None:
            category, pattern = hit
            signal = signal_of(pattern)
            findings.append(
                say(
                    Status.FAIL,
                    f"package:{package.name}",
                    f"software.denied_by_{signal}",
                    {
                        **_package_evidence(package),
                        "category": category,
                        "rule": pattern,
                        "signal": signal,
                    },
                    severity=Severity.HIGH if category == "remote_control" else None,
                    package=package.name,
                    category=category.replace("_", " "),
                )
            )
    if findings:
        return _capped(findings, "software.more_denied")
    return [
        say(
            Status.PASS,
            "host",
            "software.none_denied",
            {"categories": categories, "unknown_categories": unknown},
            count=len(packages),
        )
    ]


def baseline(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    known = set(params["baseline"])
    packages = facts.packages
    if not known:
        return [
            say(Status.NOT_APPLICABLE, "host", "software.no_baseline", {"installed": len(packages)})
        ]
    added = [p for p in packages if p.name not in known]
    if not added:
        return [
            say(
                Status.PASS,
                "host",
                "software.none_added",
                {"installed": len(packages), "baseline": len(known)},
                count=len(packages),
            )
        ]
    findings = []
    for package, brought in _fold_dependencies(added):
        findings.append(
            say(
                Status.FAIL,
                f"package:{package.name}",
                "software.added_with_dependencies" if brought else "software.added",
                {**_package_evidence(package), "dependencies": brought[:200]},
                package=package.name,
                **({"count": len(brought)} if brought else {}),
            )
        )
    return _capped(findings, "software.more_added")


def _fold_dependencies(
    added: list[InstalledPackage],
) -> list[tuple[InstalledPackage, list[str]]]:
    """What was installed on purpose, each with the added packages it pulled in (apt's auto
    marks); an auto-installed package no added package explains stands on its own."""
    by_name = {p.name: p for p in added}
    explained: set[str] = set()
    rows = []
    for package in added:
        if package.auto_installed:
            continue
        brought: list[str] = []
        stack = list(package.depends)
        while stack:
            name = stack.pop()
            dependency = by_name.get(name)
            if dependency is None or not dependency.auto_installed or name in brought:
                continue
            brought.append(name)
            stack.extend(dependency.depends)
        explained.update(brought)
        rows.append((package, sorted(brought)))
    rows += [(p, []) for p in added if p.auto_installed and p.name not in explained]
    return rows


# The sub-commands of xunjian that run as long-lived processes and may listen.
_XUNJIAN_SERVICES = frozenset({"server", "agent", "demo"})


def _runs_xunjian(command: Sequence[str]) -> bool:
    """``.../xunjian server run``, ``python .../bin/xunjian agent run`` or ``python -m xunjian
    server ...``: the interpreter (if any), then xunjian's entry point, then a service."""
    words = list(command[:4])
    for at, word in enumerate(words[:-1]):
        follows = words[at + 1]
        if PurePosixPath(word).name == "xunjian" and follows in _XUNJIAN_SERVICES:
            return True
        if word == "-m" and follows == "xunjian":
            return len(words) > at + 2 and words[at + 2] in _XUNJIAN_SERVICES
    return False


def is_xunjian_process(program: ListeningProgram) -> bool:
    """xunjian's own server, agent or demo, or a worker that one of them spawned (the
    server's workers are multiprocessing "spawn" children, whose command line names only
    multiprocessing). Told by the command line, which any process can set: that is why such
    a listener is not silent but listed as xunjian's own, with its command line and owner,
    in the pass result's evidence."""
    if _runs_xunjian(program.command):
        return True
    return "--multiprocessing-fork" in program.command and _runs_xunjian(program.parent_command)


def _described(program: ListeningProgram) -> str:
    """A listener named so that a person can tell two python processes apart."""
    command = shlex.join(program.command) if program.command else (program.exe or program.name)
    owner = f", user {program.user}" if program.user else ""
    return f"{command[:300]} (pid {program.pid}{owner})"


def unpackaged_listeners(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exempt = list(params["exempt_paths"])
    programs = facts.listening_programs
    own = [p for p in programs if p.package is None and is_xunjian_process(p)]
    programs = tuple(p for p in programs if p not in own)
    own_evidence = [
        {
            "pid": p.pid,
            "user": p.user,
            "command": shlex.join(p.command)[:300],
            "ports": list(p.ports),
        }
        for p in own
    ]
    if own and not programs:
        return [
            say(
                Status.PASS,
                "host",
                "software.only_xunjian_listens",
                {"xunjian": own_evidence},
                count=len(own),
            )
        ]
    judged = [p for p in programs if p.owner_known]
    if programs and not judged:
        return [
            say(
                Status.NOT_APPLICABLE,
                "host",
                "software.listeners_owner_unknown",
                {"programs": sorted({p.name for p in programs})},
            )
        ]
    strays = [
        p
        for p in judged
        if p.package is None and not any(fnmatchcase(p.exe or "", e) for e in exempt)
    ]
    if not strays:
        return [
            say(
                Status.PASS,
                "host",
                "software.listeners_packaged_and_xunjian" if own else "software.listeners_packaged",
                {
                    "programs": sorted({f"{p.name}:{p.package}" for p in judged}),
                    **({"xunjian": own_evidence} if own else {}),
                },
                count=len(judged),
                **({"own": len(own)} if own else {}),
            )
        ]
    return [
        say(
            Status.FAIL,
            f"program:{p.exe}",
            "software.unpackaged_listener",
            {
                "pid": p.pid,
                "name": p.name,
                "ports": list(p.ports),
                "command": shlex.join(p.command)[:1000],
                "user": p.user,
            },
            listener=_described(p),
            ports=", ".join(p.ports),
            program=p.exe,
        )
        for p in strays
    ]
