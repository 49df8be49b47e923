"""Installed packages, package manager activity and installed kernels.

dpkg's status file and apt's logs are plain files, read under a host tree as on a live host.
rpm keeps a database that only its own program reads, so rpm hosts need commands.
"""

from __future__ import annotations

import contextlib
import gzip
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from checks.collectors.linux.apt_lists import apt_sources
from checks.collectors.linux.rpmdb import packages_from_sqlite
from checks.errors import CollectError, NoPrivilege, NotApplicable
from checks.facts import InstalledPackage, Kernels, PackageActivity
from checks.host import HostContext

DPKG_STATUS = "/var/lib/dpkg/status"
DPKG_INFO = "/var/lib/dpkg/info"
RPM_DATABASES = ("/var/lib/rpm", "/usr/lib/sysimage/rpm")
APT_LISTS = "/var/lib/apt/lists"
APT_UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"
APT_HISTORY = "/var/log/apt/history.log"
DPKG_LOG = "/var/log/dpkg.log"
DNF_HISTORY = "/var/lib/dnf/history.sqlite"
DNF_CACHE = "/var/cache/dnf"
# dpkg states in which the package's files are (at least partly) on disk.
_ON_DISK = {
    "installed",
    "half-configured",
    "unpacked",
    "half-installed",
    "triggers-awaited",
    "triggers-pending",
}
_DPKG_LOG_LINE = re.compile(
    r"^(?P<when>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) (?P<action>install|upgrade) (?P<pkg>\S+) "
)
_HISTORY_START = re.compile(r"^Start-Date: (?P<when>\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}:\d{2})")
_HISTORY_CHANGE = re.compile(r"^(?P<action>Install|Upgrade|Reinstall): (?P<first>[^:\s]+)")
_MAX_ROTATED_LOGS = 12


APT_EXTENDED_STATES = "/var/lib/apt/extended_states"
_RELATION_NAME = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)")


def _relation_names(*fields: str) -> tuple[str, ...]:
    names = []
    for field in fields:
        for alternative in re.split(r"[,|]", field):
            match = _RELATION_NAME.match(alternative)
            if match:
                names.append(match.group(1))
    return tuple(dict.fromkeys(names))


def parse_auto_installed(text: str) -> set[str]:
    """Packages apt marked as installed automatically (Auto-Installed: 1)."""
    auto = set()
    for stanza in re.split(r"\n\s*\n", text):
        fields = dict(
            (k.strip(), v.strip())
            for k, _, v in (line.partition(":") for line in stanza.splitlines() if ":" in line)
        )
        if fields.get("Auto-Installed") == "1" and "Package" in fields:
            auto.add(fields["Package"])
    return auto


def parse_dpkg_status(text: str, auto: set[str] | None = None) -> tuple[InstalledPackage, ...]:
    packages = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1].isspace() or ":" not in line:
                continue  # continuation lines of Description and Conffiles
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        name = fields.get("Package")
        state = fields.get("Status", "").split()
        if not name or len(state) != 3 or state[2] not in _ON_DISK:
            continue
        packages.append(
            InstalledPackage(
                name=name,
                version=fields.get("Version", ""),
                architecture=fields.get("Architecture", ""),
                section=fields.get("Section", ""),
                manager="dpkg",
                description=fields.get("Description", ""),
                auto_installed=name in (auto or set()),
                depends=_relation_names(
                    fields.get("Pre-Depends", ""),
                    fields.get("Depends", ""),
                    fields.get("Recommends", ""),
                ),
            )
        )
    return tuple(packages)


def rpm_database(host: HostContext) -> str | None:
    return next((path for path in RPM_DATABASES if host.path(path).is_dir()), None)


def rpm_command(host: HostContext, database: str, *args: str) -> list[str]:
    """rpm reading the host's own database; for a tree (with a test's runner), the tree's."""
    prefix = ["--root", str(host.root)] if host.is_tree else []
    return ["rpm", *prefix, "--dbpath", database, *args]


def collect_packages(host: HostContext) -> tuple[InstalledPackage, ...]:
    text = host.read_optional(DPKG_STATUS)
    if text is not None:
        return parse_dpkg_status(
            text, parse_auto_installed(host.read_optional(APT_EXTENDED_STATES) or "")
        )
    database = rpm_database(host)
    if database is None:
        raise NotApplicable("no package database (dpkg or rpm) was found on this host")
    if host.runner is None:
        # A tree: rpm does not run, so its SQLite database is read directly.
        return packages_from_sqlite(host, database)
    # rpm's database is only for rpm to read (Berkeley DB or SQLite holding binary headers).
    result = host.run(
        rpm_command(
            host,
            database,
            "-qa",
            "--qf",
            "%{NAME}\\t%{VERSION}-%{RELEASE}\\t%{ARCH}\\t%{GROUP}\\t%{SUMMARY}\\n",
        ),
        why="listing installed rpm packages",
    )
    if result.returncode != 0:
        raise CollectError(f"rpm -qa exited with {result.returncode}: {result.stderr[:300]}")
    packages = []
    for line in result.stdout.splitlines():
        name, version, arch, group, summary = [*line.split("\t"), "", "", "", "", ""][:5]
        if name:
            packages.append(InstalledPackage(name, version, arch, group, "rpm", summary))
    return tuple(packages)


def _local_time(text: str) -> datetime | None:
    """A log's local wall-clock time as an aware datetime; apt and dpkg write local time."""
    try:
        return datetime.strptime(" ".join(text.split()), "%Y-%m-%d %H:%M:%S").astimezone()
    except ValueError:
        return None


def _log_texts(host: HostContext, path: str) -> list[tuple[str, str]]:
    """A log and its rotations (path.1, path.2.gz, ...), as logrotate leaves them."""
    texts = []
    candidates = [path] + [
        f"{path}.{n}{suffix}" for n in range(1, _MAX_ROTATED_LOGS + 1) for suffix in ("", ".gz")
    ]
    for candidate in candidates:
        target = host.path(candidate)
        if not target.is_file():
            continue
        try:
            data = target.read_bytes()
        except PermissionError as exc:
            raise NoPrivilege(f"{candidate} is not readable by this account") from exc
        if candidate.endswith(".gz"):
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError):
                continue  # a half-written rotation; the other logs still count
        texts.append((candidate, data.decode("utf-8", errors="replace")))
    return texts


def newest_apt_history_install(text: str) -> tuple[datetime, str] | None:
    newest: tuple[datetime, str] | None = None
    started: datetime | None = None
    for line in text.splitlines():
        if start := _HISTORY_START.match(line):
            started = _local_time(start["when"])
        elif (
            (change := _HISTORY_CHANGE.match(line))
            and started is not None
            and (newest is None or started > newest[0])
        ):
            newest = (started, change["first"])
    return newest


def newest_dpkg_log_install(text: str) -> tuple[datetime, str] | None:
    newest: tuple[datetime, str] | None = None
    for line in text.splitlines():
        match = _DPKG_LOG_LINE.match(line)
        if match is None:
            continue
        when = _local_time(match["when"])
        if when is not None and (newest is None or when > newest[0]):
            newest = (when, match["pkg"].split(":")[0])
    return newest


def _mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return None


def _apt_lists_refreshed(host: HostContext) -> datetime | None:
    lists = host.path(APT_LISTS)
    times = [_mtime(p) for p in lists.glob("*Release")] if lists.is_dir() else []
    times.append(_mtime(host.path(APT_UPDATE_STAMP)))
    return max((t for t in times if t is not None), default=None)


def _apt_activity(host: HostContext) -> PackageActivity:
    lists = apt_sources(host)
    sources: list[str] = []
    newest: tuple[datetime, str] | None = None
    for path, parse in ((APT_HISTORY, newest_apt_history_install), (DPKG_LOG, None)):
        for name, text in _log_texts(host, path):
            sources.append(name)
            found = parse(text) if parse else newest_dpkg_log_install(text)
            if found and (newest is None or found[0] > newest[0]):
                newest = found
    return PackageActivity(
        manager="apt",
        lists_refreshed_at=_apt_lists_refreshed(host),
        last_install_at=newest[0] if newest else None,
        last_install_package=newest[1] if newest else None,
        sources=tuple(sources),
        package_suites=tuple(sorted({s.name for s in lists})),
        security_suites=tuple(sorted({s.name for s in lists if s.is_security})),
    )


def _dnf_activity(host: HostContext) -> PackageActivity:
    last: datetime | None = None
    sources = []
    history = host.path(DNF_HISTORY)
    if history.is_file():
        sources.append(DNF_HISTORY)
        try:
            # Read only, so a scan never takes dnf's lock or changes its history.
            with contextlib.closing(sqlite3.connect(f"{history.as_uri()}?mode=ro", uri=True)) as db:
                row = db.execute("SELECT max(dt_end) FROM trans").fetchone()
        except sqlite3.Error as exc:
            if not history.stat().st_mode & 0o004:
                raise NoPrivilege(f"{DNF_HISTORY} is not readable by this account") from exc
            raise CollectError(f"{DNF_HISTORY} could not be read: {exc}") from exc
        if row and row[0]:
            last = datetime.fromtimestamp(int(row[0]), UTC)
    cache = host.path(DNF_CACHE)
    repomds = list(cache.glob("*/repodata/repomd.xml")) if cache.is_dir() else []
    refreshed = max((t for t in map(_mtime, repomds) if t is not None), default=None)
    return PackageActivity("dnf", refreshed, last, None, tuple(sources))


def collect_package_activity(host: HostContext) -> PackageActivity:
    if host.path(DPKG_STATUS).is_file():
        return _apt_activity(host)
    if host.path("/var/lib/dnf").is_dir() or host.path(DNF_CACHE).is_dir():
        return _dnf_activity(host)
    raise NotApplicable("neither apt nor dnf keeps package records on this host")


def kernel_sort_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Natural order of kernel versions: 6.1.0-28 after 6.1.0-9."""
    parts = re.split(r"(\d+)", version)
    return tuple((1, int(p)) if p.isdigit() else (0, p) for p in parts if p)


def collect_kernels(host: HostContext) -> Kernels:
    running = (host.read_optional("/proc/sys/kernel/osrelease") or "").strip() or None
    installed: set[str] = set()
    boot = host.path("/boot")
    if boot.is_dir():
        installed.update(
            p.name.removeprefix("vmlinuz-")
            for p in boot.glob("vmlinuz-*")
            if "rescue" not in p.name
        )
    for modules in ("/lib/modules", "/usr/lib/modules"):
        folder = host.path(modules)
        if folder.is_dir():
            installed.update(p.parent.name for p in folder.glob("*/vmlinuz"))
    return Kernels(running=running, installed=tuple(sorted(installed, key=kernel_sort_key)))


def dpkg_owner_index(host: HostContext) -> dict[str, str] | None:
    """Path -> package from info/*.list files; None without dpkg."""
    info = host.path(DPKG_INFO)
    if not info.is_dir():
        return None
    owners: dict[str, str] = {}
    for listing in info.glob("*.list"):
        package = listing.name.removesuffix(".list").split(":")[0]
        with contextlib.suppress(OSError):
            for line in listing.read_text(errors="replace").splitlines():
                owners.setdefault(line.strip(), package)
    return owners
