"""Where the system's logs go and how long they stay (POLICY.md E12: six months by law).

journald keeps logs on disk when Storage=persistent, or Storage=auto (its default) once
/var/log/journal exists; its MaxRetentionSec= caps their age. A syslog daemon (rsyslog,
syslog-ng) writes files that logrotate ages: a block's period (daily, weekly, ...) times its
rotate count is how long an old line survives. All is read from files; nothing runs.
"""

from __future__ import annotations

import contextlib
import re
import shlex

from checks.collectors.linux.units import unit_enabled
from checks.facts import LogRotation, LogSetup
from checks.host import HostContext

JOURNALD_BINARIES = ("/usr/lib/systemd/systemd-journald", "/lib/systemd/systemd-journald")
JOURNALD_CONF = "/etc/systemd/journald.conf"
# systemd reads drop-ins from these folders, ordered by file name, later wins.
JOURNALD_DROP_IN_DIRS = (
    "/usr/lib/systemd/journald.conf.d",
    "/run/systemd/journald.conf.d",
    "/etc/systemd/journald.conf.d",
)
JOURNAL_DIR = "/var/log/journal"
# (daemon, its program, its unit, its configuration files)
SYSLOG_DAEMONS = (
    ("rsyslog", "/usr/sbin/rsyslogd", "rsyslog.service", "/etc/rsyslog.conf", "/etc/rsyslog.d"),
    (
        "syslog-ng",
        "/usr/sbin/syslog-ng",
        "syslog-ng.service",
        "/etc/syslog-ng/syslog-ng.conf",
        "/etc/syslog-ng/conf.d",
    ),
)
LOGROTATE_CONF = "/etc/logrotate.conf"
PERIOD_DAYS = {"hourly": 1 / 24, "daily": 1.0, "weekly": 7.0, "monthly": 30.0, "yearly": 365.0}
# systemd.time(7) units for MaxRetentionSec=; a bare number is seconds.
_TIME_UNITS = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "sec": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "hr": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
    "month": 2630016,
    "months": 2630016,
    "y": 31557600,
    "year": 31557600,
    "years": 31557600,
}
# rsyslog's legacy "selector  -/var/log/file" lines and RainerScript's omfile actions.
_LEGACY_ACTION = re.compile(r"^\s*[^\s#$][^\s]*\.[^\s]+\s+-?(/[^\s;]+)")
_OMFILE = re.compile(r"""\bfile\s*=\s*["'](/[^"']+)["']""")
_SYSLOG_NG_FILE = re.compile(r"""\bfile\s*\(\s*["'](/[^"']+)["']""")


def parse_timespan(text: str) -> float | None:
    """Seconds in a systemd time span such as "6month", "180d 12h" or "3600"; None if not one."""
    total = 0.0
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text.strip().lower())
    if not parts or re.sub(r"[\d.\sa-z]", "", text.lower()):
        return None
    for number, unit in parts:
        factor = _TIME_UNITS.get(unit or "s")
        if factor is None:
            return None
        total += float(number) * factor
    return total


def _journald_settings(host: HostContext) -> dict[str, str]:
    files = [JOURNALD_CONF]
    drop_ins: dict[str, str] = {}
    for folder in JOURNALD_DROP_IN_DIRS:
        base = host.path(folder)
        if base.is_dir():
            for path in base.glob("*.conf"):
                drop_ins[path.name] = f"{folder}/{path.name}"
    files += [drop_ins[name] for name in sorted(drop_ins)]
    settings: dict[str, str] = {}
    for path in files:
        section = ""
        for raw in (host.read_optional(path) or "").splitlines():
            line = raw.strip()
            if line.startswith("["):
                section = line
            elif section == "[Journal]" and "=" in line and not line.startswith(("#", ";")):
                key, _, value = line.partition("=")
                settings[key.strip()] = value.strip()
    return settings


def _started_at_boot(host: HostContext, unit: str, name: str) -> bool:
    """A systemd *.wants link, or a SysV start link on a host without systemd."""
    if unit_enabled(host, unit):
        return True
    return any(host.path(f"/etc/rc{level}.d").glob(f"S*{name}") for level in "2345")


def _conf_files(host: HostContext, main: str, folder: str) -> list[str]:
    base = host.path(folder)
    extra = sorted(f"{folder}/{p.name}" for p in base.glob("*.conf")) if base.is_dir() else []
    return [main, *extra]


def _syslog_files(host: HostContext, main: str, folder: str) -> list[str]:
    found: list[str] = []
    for path in _conf_files(host, main, folder):
        text = host.read_optional(path) or ""
        for raw in text.splitlines():
            line = raw.split("#", 1)[0]
            for pattern in (_LEGACY_ACTION, _OMFILE, _SYSLOG_NG_FILE):
                match = pattern.search(line)
                if match and match.group(1) not in found:
                    found.append(match.group(1))
    return found


def _logrotate_words(text: str) -> list[list[str]]:
    """Lines of a logrotate file as words, without comments and script bodies."""
    lines: list[list[str]] = []
    in_script = False
    for raw in text.splitlines():
        stripped = raw.strip()
        if in_script:
            in_script = stripped != "endscript"
            continue
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = shlex.split(stripped, comments=True)
        except ValueError:
            words = stripped.split()
        if words and words[0] in ("postrotate", "prerotate", "firstaction", "lastaction"):
            in_script = True
            continue
        if words:
            lines.append(words)
    return lines


class _Rotation:
    def __init__(self, period: float | None, rotate: int, maxage: int | None) -> None:
        self.period = period
        self.rotate = rotate
        self.maxage = maxage

    def apply(self, words: list[str]) -> None:
        key = words[0]
        if key in PERIOD_DAYS:
            self.period = PERIOD_DAYS[key]
        elif key == "size":
            # "size" replaces time-based rotation: how long a line stays is not known.
            self.period = None
        elif key == "rotate" and len(words) > 1:
            with contextlib.suppress(ValueError):
                self.rotate = int(words[1])
        elif key == "maxage" and len(words) > 1:
            with contextlib.suppress(ValueError):
                self.maxage = int(words[1])


def _logrotate_files(host: HostContext, path: str, seen: set[str]) -> list[str]:
    """path, and what its include lines name, in the order logrotate reads them."""
    if path in seen:
        return []
    seen.add(path)
    target = host.path(path)
    if target.is_dir():
        # logrotate skips backup and package-manager leftovers in an included folder.
        names = sorted(
            p.name
            for p in target.iterdir()
            if p.is_file() and not p.name.endswith((".dpkg-old", ".dpkg-dist", ".rpmsave", "~"))
        )
        return [f for n in names for f in _logrotate_files(host, f"{path}/{n}", seen)]
    order = [path]
    for words in _logrotate_words(host.read_optional(path) or ""):
        if words[0] == "include" and len(words) > 1:
            order += _logrotate_files(host, words[1], seen)
    return order


def parse_logrotate(host: HostContext) -> tuple[LogRotation, ...]:
    """Every block of logrotate.conf and the files it includes, with the global defaults in
    force where the block starts (logrotate's own default: no period, rotate 0)."""
    defaults = _Rotation(None, 0, None)
    blocks: list[LogRotation] = []
    for path in _logrotate_files(host, LOGROTATE_CONF, set()):
        text = host.read_optional(path) or ""
        # Braces may share a line with patterns or directives: give each its own word.
        patterns: list[str] = []
        block: _Rotation | None = None
        for words in _logrotate_words(text.replace("{", " { ").replace("}", " } ")):
            if block is None:
                if "{" in words:
                    patterns += words[: words.index("{")]
                    block = _Rotation(defaults.period, defaults.rotate, defaults.maxage)
                elif words[0].startswith("/"):
                    patterns += words  # a pattern list may span lines before its brace
                elif words[0] != "include":
                    defaults.apply(words)
                continue
            if "}" not in words:
                block.apply(words)
                continue
            if words[0] != "}":
                block.apply(words[: words.index("}")])
            blocks.append(
                LogRotation(
                    config=path,
                    paths=tuple(patterns),
                    period_days=block.period,
                    rotate=block.rotate,
                    maxage_days=block.maxage,
                )
            )
            block, patterns = None, []
    return tuple(blocks)


def collect_log_setup(host: HostContext) -> LogSetup:
    journald = any(host.path(p).is_file() for p in JOURNALD_BINARIES)
    settings = _journald_settings(host) if journald else {}
    retention = settings.get("MaxRetentionSec")
    seconds = parse_timespan(retention) if retention else None
    daemons: list[str] = []
    files: list[str] = []
    for name, program, unit, main, folder in SYSLOG_DAEMONS:
        if host.path(program).is_file() and _started_at_boot(host, unit, name):
            daemons.append(name)
            files += _syslog_files(host, main, folder)
    return LogSetup(
        journald_installed=journald,
        journald_storage=settings.get("Storage", "auto").lower() if journald else None,
        journal_dir_exists=host.path(JOURNAL_DIR).is_dir(),
        journald_max_retention_days=None if not seconds else seconds / 86400,
        syslog_daemons=tuple(daemons),
        syslog_files=tuple(files),
        rotations=parse_logrotate(host),
    )
