"""Listening sockets and the programs behind them on a running Windows, through psutil.

The same facts as Linux's /proc reader (checks/collectors/linux/network.py and processes.py):
``ListeningSocket`` for each listening TCP socket and each unconnected UDP socket, and
``ListeningProgram`` for each process holding one. psutil reads them with
GetExtendedTcpTable/GetExtendedUdpTable, which give the owning PID without a privilege; a
process this account may not open (LocalSystem's, when the agent is not LocalSystem) still
gives its name, but not always its path or user: those are left unknown (None, ""), never
guessed. Windows has no uid or socket inode: ``uid`` is -1 and ``inode`` 0.

psutil is reached through ``psutil_api()``, which tests replace with a fake that has
psutil's own constants, named tuples and exceptions (tests/windows/test_ports.py).
"""

from __future__ import annotations

import socket
from typing import Any

from checks.errors import CollectError, NotApplicable
from checks.facts import ListeningProgram, ListeningSocket
from checks.host import HostContext
from checks.messages import said

NO_UID = -1  # Windows sockets belong to a process, not a uid


def psutil_api() -> Any:
    """The psutil module (a Windows-only dependency); ImportError where it is not installed."""
    import psutil

    return psutil


def _listening(api: Any) -> list[Any]:
    """psutil's sconn tuples that listen: TCP in LISTEN, UDP with no remote address."""
    try:
        connections = api.net_connections(kind="inet")
    except api.AccessDenied:
        raise CollectError("psutil.net_connections was refused by Windows") from None
    return [
        conn
        for conn in connections
        if (conn.type == socket.SOCK_STREAM and conn.status == api.CONN_LISTEN)
        or (conn.type == socket.SOCK_DGRAM and not conn.raddr)
    ]


def _socket(conn: Any) -> ListeningSocket:
    return ListeningSocket(
        protocol="tcp" if conn.type == socket.SOCK_STREAM else "udp",
        family="ipv6" if conn.family == socket.AF_INET6 else "ipv4",
        address=conn.laddr.ip,
        port=conn.laddr.port,
        uid=NO_UID,
        inode=0,
    )


def collect_windows_listening_sockets(host: HostContext) -> tuple[ListeningSocket, ...]:
    if host.is_tree:
        raise said(NotApplicable, "windows.ports_live_only")
    return tuple(_socket(conn) for conn in _listening(psutil_api()))


def _process(api: Any, pid: int) -> tuple[str, str | None, str] | None:
    """(name, exe, user) of a process; None when it has exited since the table was read."""
    try:
        process = api.Process(pid)
        name = process.name()
    except api.NoSuchProcess:
        return None
    except api.AccessDenied:
        return (f"pid {pid}", None, "")
    # Each detail on its own: a protected process (lsass.exe, System) gives its name to anyone
    # but its path and user only to a privileged caller.
    try:
        exe = process.exe() or None
    except (api.AccessDenied, api.NoSuchProcess):
        exe = None
    try:
        user = process.username() or ""
    except (api.AccessDenied, api.NoSuchProcess):
        user = ""
    return (name, exe, user)


def collect_windows_listening_programs(host: HostContext) -> tuple[ListeningProgram, ...]:
    if host.is_tree:
        raise said(NotApplicable, "windows.port_programs_live_only")
    api = psutil_api()
    ports_by_pid: dict[int, set[str]] = {}
    for conn in _listening(api):
        if not conn.pid:
            # None: psutil could not tell; 0 (System Idle Process) owns no listening socket on
            # Windows, and wine gives 0 for the host's sockets of non-wine processes.
            continue
        sock = _socket(conn)
        ports_by_pid.setdefault(conn.pid, set()).add(f"{sock.protocol}/{sock.port}")
    programs = []
    for pid, ports in sorted(ports_by_pid.items()):
        details = _process(api, pid)
        if details is None:
            continue
        name, exe, user = details
        # No package manager owns Windows programs: owner unknown, as on Linux without one.
        programs.append(
            ListeningProgram(pid, name, exe, tuple(sorted(ports)), None, False, user=user)
        )
    return tuple(programs)
