"""Listening ports and their programs on Windows through psutil (checks/collectors/windows/
ports.py), judged by services.windows_listening.

Replaced, and only that: the psutil module, by a fake with psutil's own names: its ``sconn`` and
``addr`` named tuples (fd, family, type, laddr, raddr, status, pid), ``CONN_LISTEN``/``CONN_NONE``,
``NoSuchProcess`` and ``AccessDenied`` (both ``psutil.Error``), and ``Process`` with name(),
exe() and username(), holding what a Windows 11 PC typically listens on (Microsoft's "Service
overview and network port requirements for Windows"). The collectors, the fact source and the
check are the agent's own code, reached through the engine as a scan runs them.
"""

from __future__ import annotations

import socket
from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from checks.collectors.windows import facts as windows_facts
from checks.collectors.windows import ports
from checks.engine import run_check
from checks.errors import NotApplicable
from checks.facts import FactName
from checks.factset import FactSource
from checks.host import HostContext
from checks.model import Status
from checks.registry import REGISTRY

addr = namedtuple("addr", ["ip", "port"])
sconn = namedtuple("sconn", ["fd", "family", "type", "laddr", "raddr", "status", "pid"])
TCP, UDP = socket.SOCK_STREAM, socket.SOCK_DGRAM
V4, V6 = socket.AF_INET, socket.AF_INET6
LAN = "192.168.1.20"

# pid: (name, exe or AccessDenied, user or AccessDenied); a missing pid has exited.
DENIED = object()
PROCESSES: dict[int, tuple[Any, Any, Any]] = {
    4: ("System", DENIED, DENIED),
    700: ("lsass.exe", DENIED, DENIED),
    712: ("wininit.exe", DENIED, DENIED),
    1040: ("svchost.exe", "C:\\Windows\\System32\\svchost.exe", "NT AUTHORITY\\NETWORK SERVICE"),
    2310: ("spoolsv.exe", "C:\\Windows\\System32\\spoolsv.exe", "NT AUTHORITY\\SYSTEM"),
    3100: (
        "AnyDesk.exe",
        "C:\\Program Files (x86)\\AnyDesk\\AnyDesk.exe",
        "NT AUTHORITY\\SYSTEM",
    ),
    3300: ("mysqld.exe", "C:\\Program Files\\MySQL\\bin\\mysqld.exe", "LAB-PC-07\\teacher"),
    3500: ("evil.exe", "C:\\Users\\teacher\\AppData\\Local\\Temp\\evil.exe", "LAB-PC-07\\lab"),
    6000: (DENIED, DENIED, DENIED),  # a protected process this account may not open at all
}
CONNECTIONS = [
    sconn(-1, V4, TCP, addr("0.0.0.0", 135), (), "LISTEN", 1040),
    sconn(-1, V6, TCP, addr("::", 135), (), "LISTEN", 1040),
    sconn(-1, V4, TCP, addr(LAN, 139), (), "LISTEN", 4),
    sconn(-1, V4, TCP, addr("0.0.0.0", 445), (), "LISTEN", 4),
    sconn(-1, V4, TCP, addr("0.0.0.0", 5357), (), "LISTEN", 4),
    sconn(-1, V4, TCP, addr("0.0.0.0", 7680), (), "LISTEN", 1040),
    sconn(-1, V4, TCP, addr("0.0.0.0", 49664), (), "LISTEN", 700),
    sconn(-1, V4, TCP, addr("0.0.0.0", 49665), (), "LISTEN", 712),
    sconn(-1, V6, TCP, addr("::", 49668), (), "LISTEN", 2310),
    sconn(-1, V4, TCP, addr("0.0.0.0", 7070), (), "LISTEN", 3100),  # AnyDesk: unapproved
    sconn(-1, V4, TCP, addr("127.0.0.1", 3306), (), "LISTEN", 3300),  # loopback only
    sconn(-1, V4, TCP, addr("0.0.0.0", 50123), (), "LISTEN", 3500),  # not an RPC server
    sconn(-1, V4, TCP, addr("0.0.0.0", 8080), (), "LISTEN", 5000),  # exited since
    sconn(-1, V4, TCP, addr("0.0.0.0", 9000), (), "LISTEN", 6000),
    sconn(-1, V4, TCP, addr("0.0.0.0", 2024), (), "LISTEN", 0),  # wine: a non-wine process
    sconn(-1, V4, TCP, addr(LAN, 49702), addr("20.42.65.90", 443), "ESTABLISHED", 1040),
    sconn(-1, V4, UDP, addr("0.0.0.0", 5353), (), "NONE", 1040),
    sconn(-1, V4, UDP, addr(LAN, 137), (), "NONE", 4),
    sconn(-1, V4, UDP, addr(LAN, 51000), addr("8.8.8.8", 53), "NONE", 1040),  # connected
]


class FakePsutil:
    CONN_LISTEN = "LISTEN"
    CONN_NONE = "NONE"

    class Error(Exception):
        pass

    class NoSuchProcess(Error):
        pass

    class AccessDenied(Error):
        pass

    def __init__(self) -> None:
        self.kinds: list[str] = []

    def net_connections(self, kind: str = "inet") -> list[Any]:
        self.kinds.append(kind)
        return list(CONNECTIONS)

    def Process(self, pid: int) -> Any:  # psutil's name
        api = self
        if pid not in PROCESSES:
            raise api.NoSuchProcess(pid)
        name, exe, user = PROCESSES[pid]
        if name is DENIED:
            raise api.AccessDenied(pid)

        def answer(value: Any) -> Any:
            if value is DENIED:
                raise api.AccessDenied(pid)
            return value

        class Process:
            def name(self) -> str:
                return str(answer(name))

            def exe(self) -> str:
                return str(answer(exe))

            def username(self) -> str:
                return str(answer(user))

        return Process()


@pytest.fixture
def psutil(monkeypatch: pytest.MonkeyPatch) -> FakePsutil:
    fake = FakePsutil()
    monkeypatch.setattr(ports, "psutil_api", lambda: fake)
    return fake


def _live(tmp_path: Path) -> HostContext:
    return HostContext(root=tmp_path, runner=None, platform="windows", is_tree=False)


def test_listening_sockets_are_tcp_in_listen_and_unconnected_udp(
    psutil: FakePsutil, tmp_path: Path
) -> None:
    sockets = ports.collect_windows_listening_sockets(_live(tmp_path))
    expected = [
        conn
        for conn in CONNECTIONS
        if (conn.type == TCP and conn.status == "LISTEN") or (conn.type == UDP and not conn.raddr)
    ]
    assert [(s.address, s.port) for s in sockets] == [tuple(c.laddr) for c in expected]
    assert {s.protocol for s in sockets if s.port in (5353, 137)} == {"udp"}
    assert [s.family for s in sockets if s.port == 135] == ["ipv4", "ipv6"]
    assert all(s.uid == ports.NO_UID and s.inode == 0 for s in sockets)
    assert psutil.kinds == ["inet"]


def test_programs_with_what_this_account_may_read(psutil: FakePsutil, tmp_path: Path) -> None:
    programs = {p.pid: p for p in ports.collect_windows_listening_programs(_live(tmp_path))}
    assert 5000 not in programs  # exited between the table and the lookup
    assert 0 not in programs  # System Idle Process owns no listening socket: unknown
    lsass = programs[700]
    assert (lsass.name, lsass.exe, lsass.user) == ("lsass.exe", None, "")  # protected
    anydesk = programs[3100]
    assert anydesk.exe == PROCESSES[3100][1] and anydesk.user == "NT AUTHORITY\\SYSTEM"
    assert anydesk.ports == ("tcp/7070",) and anydesk.package is None and not anydesk.owner_known
    assert programs[1040].ports == ("tcp/135", "tcp/7680", "udp/5353")  # not the connected ones
    assert programs[6000].name == "pid 6000" and programs[6000].exe is None


def test_from_a_volume_there_are_no_listening_ports(psutil: FakePsutil) -> None:
    host = HostContext(root=Path("/nonexistent"), runner=None, platform="windows", is_tree=True)
    with pytest.raises(NotApplicable):
        ports.collect_windows_listening_sockets(host)
    with pytest.raises(NotApplicable):
        ports.collect_windows_listening_programs(host)
    assert psutil.kinds == []


def test_windows_listening_flags_only_what_is_not_windows_own(
    psutil: FakePsutil, tmp_path: Path
) -> None:
    spec = REGISTRY["services.windows_listening"]
    source = FactSource(_live(tmp_path))
    results = run_check(spec, source, "windows", {})
    failed = {r.resource: r for r in results if r.status == Status.FAIL}
    # 7070 AnyDesk; 50123 a dynamic port held by no RPC server; 8080 and 9000 with their
    # programs unknown (exited, or not to be opened); never the system's 135/139/445/5357/7680
    # or lsass/wininit/spoolsv's RPC ports; 3306 listens on loopback only.
    assert sorted(failed) == [
        "port:tcp/2024", "port:tcp/50123", "port:tcp/7070", "port:tcp/8080", "port:tcp/9000",
    ]  # fmt: skip
    assert failed["port:tcp/2024"].evidence["programs"] == []
    assert failed["port:tcp/7070"].evidence["programs"] == [PROCESSES[3100][1]]
    assert failed["port:tcp/8080"].evidence["programs"] == []
    assert failed["port:tcp/9000"].evidence["programs"] == ["pid 6000"]
    # Both facts were collected once, through the Windows collectors' table.
    assert source.collections == {FactName.LISTENING_SOCKETS: 1, FactName.LISTENING_PROGRAMS: 1}
    approved = run_check(spec, source, "windows", {"approved_tcp_ports": [2024, 7070, 8080, 9000]})
    assert [r.resource for r in approved if r.status == Status.FAIL] == ["port:tcp/50123"]
    # The Linux check is unchanged: on Windows it does not run.
    linux = run_check(REGISTRY["services.listening"], source, "windows", {})
    assert [r.status for r in linux] == [Status.NOT_APPLICABLE]


def test_without_the_programs_dynamic_ports_are_judged_like_any_other(
    psutil: FakePsutil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_programs(host: HostContext) -> Any:
        raise NotApplicable("no process table")

    # The Windows collectors' table looks the function up in facts.py on each use.
    monkeypatch.setattr(windows_facts, "collect_windows_listening_programs", no_programs)
    results = run_check(
        REGISTRY["services.windows_listening"], FactSource(_live(tmp_path)), "windows", {}
    )
    failed = sorted(r.resource for r in results if r.status == Status.FAIL)
    assert "port:tcp/49664" in failed and "port:tcp/445" not in failed
