"""Processes from /proc, and which program (and package) holds each listening socket."""

from __future__ import annotations

import os
from pathlib import Path

from checks.collectors.linux.network import collect_listening_sockets
from checks.collectors.linux.packages import dpkg_owner_index, rpm_command, rpm_database
from checks.errors import CollectError, NoPrivilege, NotApplicable
from checks.facts import ListeningProgram, ProcessInfo
from checks.host import HostContext
from checks.messages import said

_DELETED = " (deleted)"


def _process_dirs(host: HostContext) -> list[Path]:
    proc = host.path("/proc")
    if not proc.is_dir():
        return []
    return sorted((p for p in proc.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))


def _status_number(status_text: str | None, key: str) -> int | None:
    for line in (status_text or "").splitlines():
        if line.startswith(key):
            fields = line.split()
            return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
    return None


def _uid(status_text: str | None) -> int | None:
    return _status_number(status_text, "Uid:")


def _command(folder: Path) -> tuple[str, ...]:
    """/proc/PID/cmdline: the arguments, NUL separated (empty for a kernel thread)."""
    try:
        raw = (folder / "cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def _user_names(host: HostContext) -> dict[int, str]:
    names: dict[int, str] = {}
    for line in (host.read_optional("/etc/passwd") or "").splitlines():
        fields = line.split(":")
        if len(fields) > 2 and fields[2].isdigit():
            names.setdefault(int(fields[2]), fields[0])
    return names


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None  # the process ended while we looked, or is not ours to read


def _readlink(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def collect_processes(host: HostContext) -> tuple[ProcessInfo, ...]:
    dirs = _process_dirs(host)
    if not dirs:
        raise said(NotApplicable, "facts.no_process_table")
    processes = []
    for folder in dirs:
        name = (_read(folder / "comm") or "").strip()
        if not name:
            continue
        processes.append(
            ProcessInfo(
                pid=int(folder.name),
                name=name,
                exe=_readlink(folder / "exe"),
                uid=_uid(_read(folder / "status")),
            )
        )
    return tuple(processes)


def package_owner(exe: str, owners: dict[str, str]) -> str | None:
    # With merged /usr, dpkg may list /bin/sshd for what the kernel calls /usr/bin/sshd.
    candidates = [exe, exe.removeprefix("/usr") if exe.startswith("/usr/") else "/usr" + exe]
    return next((owners[c] for c in candidates if c in owners), None)


def _rpm_owner(host: HostContext, database: str, exe: str) -> str | None:
    argv = rpm_command(host, database, "-qf", "--qf", "%{NAME}\\n", exe)
    result = host.run(argv, why="finding a binary's package")
    if result.returncode != 0:
        return None  # rpm says "file ... is not owned by any package"
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else None


def collect_listening_programs(host: HostContext) -> tuple[ListeningProgram, ...]:
    ports_by_inode: dict[int, str] = {
        s.inode: f"{s.protocol}/{s.port}" for s in collect_listening_sockets(host) if s.inode
    }
    dirs = _process_dirs(host)
    if not dirs:
        raise NotApplicable("there is no process table under /proc to read")
    found: dict[int, tuple[str, str | None, set[str]]] = {}
    proc = host.path("/proc")
    unreadable = 0
    matched: set[int] = set()
    for folder in dirs:
        try:
            fds = list((folder / "fd").iterdir())
        except PermissionError:
            unreadable += 1
            continue
        except OSError:
            continue
        for fd in fds:
            target = _readlink(fd) or ""
            if not target.startswith("socket:["):
                continue
            inode = int(target[len("socket:[") : -1])
            if inode in ports_by_inode:
                matched.add(inode)
                name = (_read(folder / "comm") or "").strip()
                entry = found.setdefault(int(folder.name), (name, _readlink(folder / "exe"), set()))
                entry[2].add(ports_by_inode[inode])
    if unreadable and set(ports_by_inode) - matched:
        raise NoPrivilege(
            f"the open files of {unreadable} processes are not readable by this account, so "
            "the programs behind some listening ports are unknown"
        )
    owners = dpkg_owner_index(host)
    database = rpm_database(host) if owners is None else None
    use_rpm = database is not None and host.runner is not None
    programs = []
    users = _user_names(host)
    for pid, (name, exe, ports) in sorted(found.items()):
        status = _read(proc / str(pid) / "status")
        uid = _uid(status)
        parent = _status_number(status, "PPid:")
        package = None
        known = owners is not None or use_rpm
        path = exe.removesuffix(_DELETED) if exe else None
        if path and owners is not None:
            package = package_owner(path, owners)
        elif path and database is not None and use_rpm:
            try:
                package = _rpm_owner(host, database, path)
            except CollectError:
                known = False
        programs.append(
            ListeningProgram(
                pid,
                name,
                exe,
                tuple(sorted(ports)),
                package,
                known and bool(path),
                command=_command(proc / str(pid)),
                user="" if uid is None else users.get(uid, f"uid {uid}"),
                parent_command=_command(proc / str(parent)) if parent else (),
            )
        )
    return tuple(programs)
