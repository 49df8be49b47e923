"""The scene of an incident on a Linux host (POLICY.md I1, docs/incidents.md "Evidence"): what
runs, what talks to whom, who is logged in, what the logs and schedulers say, which files just
changed, which kernel modules are loaded. The agent's evidence snapshot (agent/evidence) puts
each in a part of a signed archive.

Two seams, as every collector has: ``host`` reads the host's files (its root may be a host
tree), ``kernel`` reads the running kernel's /proc (processes, sockets, modules), which a host
tree does not have; on a live host both are "/". Every collector returns plain JSON values, and
raises CollectError (NoPrivilege, NotApplicable) rather than an empty list that reads as "all
clear". Everything is bounded: a scene is taken while something is wrong on the host, and a
full /tmp must not make the snapshot fail or the archive grow without limit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.collectors.linux.logins import UTMP, WTMP_FILES
from checks.collectors.linux.network import PROC_NET_TABLES, decode_address
from checks.collectors.linux.processes import _process_dirs, _user_names
from checks.collectors.linux.scheduled import collect_scheduled_jobs
from checks.errors import NoPrivilege, NotApplicable
from checks.host import HostContext

UTMP_FILES = ("/run/utmp", "/var/run/utmp")
AUTH_LOGS = ("/var/log/auth.log", "/var/log/secure")
# Folders searched for recent changes beside the watched ones (an intruder's usual drops).
SCRATCH_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")
DEFAULT_WEB_ROOTS = ("/var/www",)
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
    "0C": "NEW_SYN_RECV",
}
UTMP_KINDS = {1: "run_level", 2: "boot", 6: "login_wait", 7: "user", 8: "dead"}
_HASH_BLOCK = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class SceneLimits:
    """How much of each part is taken (the newest first where order matters)."""

    max_processes: int = 5000
    hash_max_bytes: int = 256 * 1024 * 1024  # larger executables are listed, not hashed
    max_sockets: int = 20000
    max_login_records: int = 500
    auth_log_max_lines: int = 5000
    auth_log_max_bytes: int = 4 * 1024 * 1024
    recent_days: float = 7.0
    max_files_visited: int = 50000
    max_files_listed: int = 5000
    file_hash_max_bytes: int = 16 * 1024 * 1024
    # What all recent files' hashes may read together: past it files are listed unhashed.
    files_hash_budget_bytes: int = 512 * 1024 * 1024


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha256_of(path: Path | str, limit: int) -> str | None:
    """The file's SHA-256, or None when it is larger than ``limit`` or cannot be read."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > limit:
                return None
            digest = hashlib.sha256()
            while block := handle.read(_HASH_BLOCK):
                digest.update(block)
            return digest.hexdigest()
    except OSError:
        return None


# -- processes ------------------------------------------------------------------------------------
def _boot_time(kernel: HostContext) -> int | None:
    for line in (kernel.read_optional("/proc/stat") or "").splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    return None


def _stat_fields(text: str) -> list[str]:
    # The command name (field 2) is in parentheses and may hold spaces or ")": split after the
    # last ")".
    return text[text.rfind(")") + 2 :].split()


def _clock_ticks() -> int:
    try:
        return int(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None  # the process ended while we looked, or is not ours to read


def collect_process_details(
    kernel: HostContext, host: HostContext, limits: SceneLimits
) -> list[dict[str, Any]]:
    """Every process: ids, user, command line, start time, executable and its SHA-256.

    The executable is hashed through /proc/PID/exe on a live kernel (the very file the process
    runs, even if it was deleted or replaced since), once per file (device and inode)."""
    dirs = _process_dirs(kernel)
    if not dirs:
        raise NotApplicable("there is no process table under /proc to read")
    users = _user_names(host)
    boot = _boot_time(kernel)
    ticks = _clock_ticks()
    hashes: dict[tuple[int, int], str | None] = {}
    processes = []
    for folder in dirs[: limits.max_processes]:
        stat_text = (_read_bytes(folder / "stat") or b"").decode(errors="replace")
        if not stat_text:
            continue
        fields = _stat_fields(stat_text)
        status = (_read_bytes(folder / "status") or b"").decode(errors="replace")
        uid = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")),
            None,
        )
        started = None
        if boot is not None and len(fields) > 19 and fields[19].isdigit():
            started = _iso(boot + int(fields[19]) / ticks)
        exe_error = ""
        try:
            exe: str | None = os.readlink(folder / "exe")
        except PermissionError:
            # Another account's process, to an agent that does not run as root: say so, so a
            # missing hash never reads as "no executable".
            exe, exe_error = None, "not readable by this account"
        except OSError:
            exe = None  # a kernel thread has none
        digest = None
        if exe is not None:
            try:
                info = os.stat(folder / "exe")
                key = (info.st_dev, info.st_ino)
                if key not in hashes:
                    hashes[key] = sha256_of(folder / "exe", limits.hash_max_bytes)
                digest = hashes[key]
            except OSError:
                digest = None
        cmdline = _read_bytes(folder / "cmdline") or b""
        processes.append(
            {
                "pid": int(folder.name),
                "ppid": int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None,
                "name": stat_text[stat_text.find("(") + 1 : stat_text.rfind(")")],
                "state": fields[0] if fields else "",
                "uid": uid,
                "user": "" if uid is None else users.get(uid, f"uid {uid}"),
                "command": [p.decode(errors="replace") for p in cmdline.split(b"\0") if p],
                "started_at": started,
                "exe": exe,
                "exe_sha256": digest,
                "exe_error": exe_error,
            }
        )
    return processes


# -- sockets --------------------------------------------------------------------------------------
def _socket_owners(kernel: HostContext) -> dict[int, int]:
    """Socket inode -> the pid holding it (the first found)."""
    owners: dict[int, int] = {}
    for folder in _process_dirs(kernel):
        try:
            fds = list((folder / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                owners.setdefault(int(target[len("socket:[") : -1]), int(folder.name))
    return owners


def _endpoint(text: str) -> tuple[str, int]:
    address, port = text.rsplit(":", 1)
    return decode_address(address), int(port, 16)


def collect_connections(kernel: HostContext, limits: SceneLimits) -> list[dict[str, Any]]:
    """Every TCP and UDP socket in the kernel's tables: listeners and connections alike, with
    the process that holds it where this account may see it."""
    owners = _socket_owners(kernel)
    sockets: list[dict[str, Any]] = []
    tables = 0
    for path, protocol, family in PROC_NET_TABLES:
        text = kernel.read_optional(path)
        if text is None:
            continue
        tables += 1
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or len(sockets) >= limits.max_sockets:
                continue
            local, local_port = _endpoint(fields[1])
            remote, remote_port = _endpoint(fields[2])
            state = TCP_STATES.get(fields[3], fields[3]) if protocol == "tcp" else fields[3]
            inode = int(fields[9])
            listening = state == "LISTEN" if protocol == "tcp" else remote_port == 0
            sockets.append(
                {
                    "protocol": protocol,
                    "family": family,
                    "local_address": local,
                    "local_port": local_port,
                    "remote_address": remote,
                    "remote_port": remote_port,
                    "state": state,
                    "listening": listening,
                    "uid": int(fields[7]),
                    "inode": inode,
                    "pid": owners.get(inode),
                }
            )
    if tables == 0:
        raise NotApplicable("there is no /proc/net/tcp to read sockets from")
    return sockets


# -- logins ---------------------------------------------------------------------------------------
def _utmp_records(data: bytes) -> Iterator[dict[str, Any]]:
    usable = len(data) - len(data) % UTMP.size
    for fields in UTMP.iter_unpack(data[:usable]):
        kind = fields[0]
        if kind not in UTMP_KINDS:
            continue

        def text(raw: bytes) -> str:
            return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")

        yield {
            "kind": UTMP_KINDS[kind],
            "user": text(fields[4]),
            "line": text(fields[2]),
            "host": text(fields[5]),
            "pid": fields[1],
            "at": _iso(fields[9]) if fields[9] > 0 else None,
        }


def _host_bytes(host: HostContext, path: str) -> bytes | None:
    target = host.path(path)
    if not target.is_file():
        return None
    try:
        return target.read_bytes()
    except PermissionError as exc:
        raise NoPrivilege(f"{path} is not readable by this account") from exc


def collect_logins(host: HostContext, limits: SceneLimits) -> dict[str, Any]:
    """Who is logged in now (utmp) and the most recent login records (wtmp), newest first."""
    sources: list[str] = []
    logged_in: list[dict[str, Any]] = []
    for path in UTMP_FILES:
        data = _host_bytes(host, path)
        if data is not None:
            sources.append(path)
            logged_in = [r for r in _utmp_records(data) if r["kind"] == "user"]
            break
    recent: list[dict[str, Any]] = []
    for path in WTMP_FILES:
        data = _host_bytes(host, path)
        if data is not None:
            sources.append(path)
            recent.extend(_utmp_records(data))
    if not sources:
        raise NotApplicable("this host keeps no utmp or wtmp login records")
    recent.sort(key=lambda r: r["at"] or "", reverse=True)
    return {
        "logged_in": logged_in,
        "recent": recent[: limits.max_login_records],
        "sources": sources,
    }


# -- the authentication log -----------------------------------------------------------------------
def _tail_lines(path: Path, max_lines: int, max_bytes: int) -> list[str]:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        start = max(0, size - max_bytes)
        handle.seek(start)
        data = handle.read(max_bytes)
    lines = data.decode("utf-8", errors="replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # the first line was cut by the byte bound
    return lines[-max_lines:]


def collect_auth_log(host: HostContext, limits: SceneLimits) -> str:
    """The newest lines of the authentication log (Debian's auth.log, Red Hat's secure)."""
    for path in AUTH_LOGS:
        target = host.path(path)
        if not target.is_file():
            continue
        try:
            lines = _tail_lines(target, limits.auth_log_max_lines, limits.auth_log_max_bytes)
        except PermissionError as exc:
            raise NoPrivilege(f"{path} is not readable by this account") from exc
        return f"==> {path} (last {len(lines)} lines) <==\n" + "".join(f"{x}\n" for x in lines)
    raise NotApplicable(
        "no authentication log file (" + ", ".join(AUTH_LOGS) + "); the journal is not read"
    )


# -- scheduled jobs -------------------------------------------------------------------------------
def collect_jobs(host: HostContext) -> list[dict[str, Any]]:
    return [dataclasses.asdict(job) for job in collect_scheduled_jobs(host)]


# -- recently changed files -----------------------------------------------------------------------
def _walk(top: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """Every entry under ``top`` without following links; unreadable folders are skipped."""
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            yield Path(entry.path), info
            if stat.S_ISDIR(info.st_mode):
                stack.append(Path(entry.path))


def collect_recent_files(
    host: HostContext, folders: Iterable[str], now: float, limits: SceneLimits
) -> dict[str, Any]:
    """Files changed (content or metadata) in the last ``recent_days`` under each folder, newest
    first, with their SHA-256 when small enough; folders absent on the host are named."""
    cutoff = now - limits.recent_days * 86400
    users = _user_names(host)
    found: list[dict[str, Any]] = []
    searched: list[str] = []
    missing: list[str] = []
    visited = 0
    truncated = False
    budget = limits.files_hash_budget_bytes
    for folder in dict.fromkeys(folders):
        top = host.path(folder)
        if not top.is_dir():
            missing.append(folder)
            continue
        searched.append(folder)
        for path, info in _walk(top):
            visited += 1
            if visited > limits.max_files_visited:
                truncated = True
                break
            changed = max(info.st_mtime, info.st_ctime)
            if changed < cutoff or stat.S_ISDIR(info.st_mode):
                continue
            host_path = "/" + path.relative_to(host.root).as_posix()
            regular = stat.S_ISREG(info.st_mode)
            kind = "file" if regular else "link" if stat.S_ISLNK(info.st_mode) else "other"
            digest = None
            if regular and info.st_size <= min(limits.file_hash_max_bytes, budget):
                budget -= info.st_size
                digest = sha256_of(path, limits.file_hash_max_bytes)
            found.append(
                {
                    "path": host_path,
                    "type": kind,
                    "size": info.st_size,
                    "mode": f"{stat.S_IMODE(info.st_mode):04o}",
                    "uid": info.st_uid,
                    "user": users.get(info.st_uid, f"uid {info.st_uid}"),
                    "modified_at": _iso(info.st_mtime),
                    "changed_at": _iso(info.st_ctime),
                    "sha256": digest,
                }
            )
    found.sort(key=lambda f: f["changed_at"], reverse=True)
    return {
        "since": _iso(cutoff),
        "searched": searched,
        "missing": missing,
        "files": found[: limits.max_files_listed],
        "truncated": truncated or len(found) > limits.max_files_listed,
    }


# -- kernel modules -------------------------------------------------------------------------------
def collect_modules(kernel: HostContext) -> list[dict[str, Any]]:
    text = kernel.read_optional("/proc/modules")
    if text is None:
        raise NotApplicable("there is no /proc/modules (a kernel without loadable modules)")
    modules = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        modules.append(
            {
                "name": fields[0],
                "size": int(fields[1]) if fields[1].isdigit() else None,
                "used_by_count": int(fields[2]) if fields[2].isdigit() else None,
                "used_by": [m for m in fields[3].split(",") if m and m != "-"],
                "state": fields[4],
                "taint": fields[6].strip("()") if len(fields) > 6 else "",
            }
        )
    return modules


def collect_host(kernel: HostContext, host: HostContext) -> dict[str, Any]:
    """What the host calls itself and when it booted."""
    boot = _boot_time(kernel)
    return {
        "hostname": (host.read_optional("/etc/hostname") or "").strip(),
        "kernel": (kernel.read_optional("/proc/sys/kernel/osrelease") or "").strip(),
        "booted_at": _iso(boot) if boot is not None else None,
        "root": str(host.root),
    }
