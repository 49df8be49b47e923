"""Operating system identity, the reboot flag, pending updates, file modes and the clock."""

from __future__ import annotations

import re
import shlex
import stat
from datetime import UTC, datetime

from checks.collectors.linux.accounts import parse_group, parse_passwd
from checks.collectors.linux.apt_lists import pending_from_lists
from checks.collectors.linux.dnf_cache import pending_from_dnf_cache
from checks.errors import CollectError, NoPrivilege, NotApplicable
from checks.facts import Clock, FileStat, OsRelease, PendingUpdate, RebootRequired
from checks.host import HostContext
from checks.messages import said

OS_RELEASE_PATHS = ("/etc/os-release", "/usr/lib/os-release")
# /var/run is a link to /run on current systems; a host tree may hold either.
REBOOT_FLAG_PATHS = ("/run/reboot-required", "/var/run/reboot-required")
SENSITIVE_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow")
_APT_INST = re.compile(
    r"^Inst (?P<package>\S+)(?: \[(?P<current>[^\]]*)\])? \((?P<new>\S+) (?P<origin>[^\[)]*)"
)


def parse_os_release(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        try:
            words = shlex.split(value)
        except ValueError:
            words = [value.strip("\"'")]
        values[key.strip()] = " ".join(words)
    return values


def collect_os_release(host: HostContext) -> OsRelease:
    for path in OS_RELEASE_PATHS:
        text = host.read_optional(path)
        if text is not None:
            values = parse_os_release(text)
            return OsRelease(
                id=values.get("ID", "linux"),
                id_like=tuple(values.get("ID_LIKE", "").split()),
                name=values.get("NAME", "Linux"),
                version_id=values.get("VERSION_ID", ""),
                pretty_name=values.get("PRETTY_NAME", values.get("NAME", "Linux")),
            )
    raise said(NotApplicable, "facts.no_os_release")


def collect_reboot_required(host: HostContext) -> RebootRequired:
    for path in REBOOT_FLAG_PATHS:
        if host.path(path).exists():
            packages_text = host.read_optional(path + ".pkgs") or ""
            packages = tuple(sorted({p.strip() for p in packages_text.splitlines() if p.strip()}))
            return RebootRequired(required=True, flag_path=path, packages=packages)
    return RebootRequired(required=False, flag_path=REBOOT_FLAG_PATHS[-1], packages=())


def parse_apt_simulation(text: str) -> tuple[PendingUpdate, ...]:
    updates = []
    for line in text.splitlines():
        match = _APT_INST.match(line)
        if match is None:
            continue
        origin = match["origin"].strip().rstrip(",")
        updates.append(
            PendingUpdate(
                package=match["package"],
                current_version=match["current"],
                new_version=match["new"],
                origin=origin,
                is_security="security" in origin.lower(),
            )
        )
    return tuple(updates)


def parse_dnf_updates(check_update: str, security: str) -> tuple[PendingUpdate, ...]:
    """`dnf check-update` lines (name.arch version repo) marked by `updateinfo list --security`
    lines (advisory type/severity name-version-release.arch)."""
    secure_nevras = {line.split()[-1] for line in security.splitlines() if len(line.split()) >= 3}
    secure_names = {_nevra_name(nevra) for nevra in secure_nevras}
    updates = []
    for line in check_update.splitlines():
        fields = line.split()
        if len(fields) != 3 or "." not in fields[0] or line.startswith(("Last metadata", " ")):
            continue
        name = fields[0].rsplit(".", 1)[0]
        updates.append(PendingUpdate(name, None, fields[1], fields[2], name in secure_names))
    return tuple(updates)


def _nevra_name(nevra: str) -> str:
    # name-version-release.arch: the name is all before the last two dashes.
    return nevra.rsplit(".", 1)[0].rsplit("-", 2)[0]


def _dnf_pending(host: HostContext) -> tuple[PendingUpdate, ...]:
    why = "listing pending updates"
    # -C reads the metadata cache only: no download, so a scan never waits on a mirror.
    updates = host.run(["dnf", "-q", "-C", "check-update"], why=why)
    if updates.returncode not in (0, 100):  # 100 means "updates are available"
        raise CollectError(f"dnf check-update exited with {updates.returncode}")
    security = host.run(["dnf", "-q", "-C", "updateinfo", "list", "--security"], why=why)
    if security.returncode != 0:
        raise CollectError(f"dnf updateinfo exited with {security.returncode}")
    return parse_dnf_updates(updates.stdout, security.stdout)


def collect_pending_updates(host: HostContext) -> tuple[PendingUpdate, ...]:
    release = collect_os_release(host)
    if host.runner is None and release.is_debian_family:
        # No command under --root: the same answer from dpkg's status and apt's lists.
        return pending_from_lists(host)[0]
    if host.runner is None and {"rhel", "fedora", "centos"} & {release.id, *release.id_like}:
        # The same for dnf: the rpm database and dnf's metadata cache.
        return pending_from_dnf_cache(host)
    host.require_commands("apt-get or dnf", why="listing pending updates")
    if not release.is_debian_family:
        if {"rhel", "fedora", "centos"} & {release.id, *release.id_like}:
            return _dnf_pending(host)
        raise said(NotApplicable, "facts.no_package_manager", system=release.name)
    # -s simulates: apt changes nothing and takes no lock, so a scan never blocks an upgrade.
    result = host.run(["apt-get", "-s", "-q", "dist-upgrade"], why="listing pending updates")
    if result.returncode != 0:
        raise CollectError(
            f"apt-get -s dist-upgrade exited with {result.returncode}: "
            f"{result.stderr.strip()[:300]}"
        )
    return parse_apt_simulation(result.stdout)


def _names_by_id(host: HostContext) -> tuple[dict[int, str], dict[int, str]]:
    try:
        users = parse_passwd(host.read_optional("/etc/passwd") or "")
        groups = parse_group(host.read_optional("/etc/group") or "")
    except (CollectError, NoPrivilege):
        return {}, {}
    # The first entry with an id names it, as getpwuid(3) (and so ls -l) does: with a second
    # UID 0 account after root, root still owns root's files.
    user_names: dict[int, str] = {}
    group_names: dict[int, str] = {}
    for user in users:
        user_names.setdefault(user.uid, user.name)
    for group in groups:
        group_names.setdefault(group.gid, group.name)
    return user_names, group_names


def collect_sensitive_files(host: HostContext) -> tuple[FileStat, ...]:
    user_names, group_names = _names_by_id(host)
    stats = []
    for path in SENSITIVE_FILES:
        try:
            info = host.path(path).stat()
        except FileNotFoundError:
            stats.append(FileStat(path, False, None, None, None, None, None))
            continue
        except PermissionError as exc:
            raise NoPrivilege(f"{path} cannot be examined by this account") from exc
        stats.append(
            FileStat(
                path=path,
                exists=True,
                mode=stat.S_IMODE(info.st_mode),
                uid=info.st_uid,
                gid=info.st_gid,
                owner=user_names.get(info.st_uid),
                group=group_names.get(info.st_gid),
            )
        )
    return tuple(stats)


def collect_clock(host: HostContext) -> Clock:
    return Clock(now=datetime.now(UTC))
