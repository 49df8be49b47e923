"""Network exposure: listening ports and rogue DHCP servers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from checks.errors import CollectError
from checks.facts import ListeningSocket
from checks.factset import Facts
from checks.messages import say
from checks.model import Finding, Severity, Status

# Services that send passwords in clear text: worse than an unapproved port in general.
CLEARTEXT_TCP_PORTS = {21: "ftp", 23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh"}
DHCP_SERVER_PORT = 67
# Windows's default dynamic port range, where RPC servers (lsass, services, spoolsv...) listen.
RPC_DYNAMIC_FIRST = 49152


def _exposed(
    sockets: tuple[ListeningSocket, ...], protocol: str, include_loopback: bool
) -> dict[int, list[ListeningSocket]]:
    by_port: dict[int, list[ListeningSocket]] = defaultdict(list)
    for sock in sockets:
        if sock.protocol == protocol and (include_loopback or not sock.is_loopback):
            by_port[sock.port].append(sock)
    return dict(by_port)


def _programs_by_port(facts: Facts) -> dict[str, list[str]]:
    """Which programs hold each port, when the process table can be read; the port verdict
    does not depend on it, so an unreadable table only leaves the names out."""
    try:
        programs = facts.listening_programs
    except CollectError:
        return {}
    by_port: dict[str, list[str]] = defaultdict(list)
    for program in programs:
        for port in program.ports:
            by_port[port].append(program.exe or program.name)
    return {port: sorted(set(names)) for port, names in by_port.items()}


def listening(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    return _judge_listening(facts, set(params["approved_tcp_ports"]), params["include_loopback"])


def windows_listening(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    """As ``listening``, with Windows's own ports left to their own checks: the fixed system
    ports (RPC endpoint mapper, NetBIOS, SMB, RDP...), and RPC's dynamic ports (49152-65535)
    when the program holding them is one of Windows's RPC servers by name."""
    system_ports = set(params["windows_system_ports"])
    rpc_programs = {name.casefold() for name in params["rpc_dynamic_programs"]}
    holders: dict[int, set[str]] = defaultdict(set)
    try:
        for program in facts.listening_programs:
            for port in program.ports:
                if port.startswith("tcp/"):
                    holders[int(port[4:])].add(program.name.casefold())
    except CollectError:
        pass  # without the programs, dynamic RPC ports are judged like any other
    dynamic = {
        port
        for port, names in holders.items()
        if port >= RPC_DYNAMIC_FIRST and names and names <= rpc_programs
    }
    return _judge_listening(
        facts,
        set(params["approved_tcp_ports"]),
        params["include_loopback"],
        system=system_ports | dynamic,
    )


def _judge_listening(
    facts: Facts,
    approved: set[int],
    include_loopback: bool,
    system: frozenset[int] | set[int] = frozenset(),
) -> list[Finding]:
    sockets = facts.listening_sockets
    exposed = _exposed(sockets, "tcp", include_loopback)
    loopback_only = sorted(
        {s.port for s in sockets if s.protocol == "tcp" and s.is_loopback} - set(exposed)
    )
    unapproved = {
        port: socks
        for port, socks in exposed.items()
        if port not in approved and port not in system
    }
    if not unapproved:
        evidence: dict[str, Any] = {
            "listening": sorted(exposed),
            "approved": sorted(approved),
            "loopback_only": loopback_only,
        }
        if system:
            evidence["system"] = sorted(set(exposed) & system)
        return [say(Status.PASS, "host", "ports.all_approved", evidence, count=len(exposed))]
    findings = []
    programs = _programs_by_port(facts)
    for port, socks in sorted(unapproved.items()):
        service = CLEARTEXT_TCP_PORTS.get(port)
        evidence = {
            "addresses": sorted({s.address for s in socks}),
            "uids": sorted({s.uid for s in socks}),
            "approved": sorted(approved),
            "programs": programs.get(f"tcp/{port}", []),
        }
        findings.append(
            say(
                Status.FAIL,
                f"port:tcp/{port}",
                "ports.cleartext_unapproved" if service else "ports.unapproved",
                evidence,
                Severity.HIGH if service else None,
                port=port,
                **({"service": service} if service else {}),
            )
        )
    return findings


def dhcp_server(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exposed = _exposed(facts.listening_sockets, "udp", include_loopback=False)
    servers = exposed.get(DHCP_SERVER_PORT, [])
    if not servers:
        return [say(Status.PASS, "host", "network.no_dhcp_server")]
    addresses = sorted({s.address for s in servers})
    if params["approved_dhcp_server"]:
        return [
            say(
                Status.PASS, "port:udp/67", "network.dhcp_server_approved", {"addresses": addresses}
            )
        ]
    return [
        say(
            Status.FAIL,
            "port:udp/67",
            "network.dhcp_server",
            {"addresses": addresses, "uids": sorted({s.uid for s in servers})},
        )
    ]


def identity(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    interfaces = [i for i in facts.network_interfaces if i.name != "lo"]
    ipv4 = sorted({a.split("/")[0] for i in interfaces for a in i.ipv4})
    macs = sorted({i.mac.lower() for i in interfaces if i.mac and i.mac != "00:00:00:00:00:00"})
    evidence: dict[str, Any] = {
        "interfaces": [
            {"name": i.name, "mac": i.mac, "ipv4": list(i.ipv4), "ipv6": list(i.ipv6)}
            for i in interfaces
        ],
        "ipv4": ipv4,
        "macs": macs,
    }
    registered_ipv4 = set(params["registered_ipv4"])
    registered_macs = {m.lower() for m in params["registered_macs"]}
    if not registered_ipv4 and not registered_macs:
        return [say(Status.NOT_APPLICABLE, "host", "network.addresses_reported", evidence)]
    findings = []
    if registered_ipv4 and set(ipv4) != registered_ipv4:
        findings.append(
            say(
                Status.FAIL,
                "network:ipv4",
                "network.ipv4_differs",
                {**evidence, "registered_ipv4": sorted(registered_ipv4)},
                found=", ".join(ipv4) or "none",
                registered=", ".join(sorted(registered_ipv4)),
            )
        )
    if registered_macs and set(macs) != registered_macs:
        findings.append(
            say(
                Status.FAIL,
                "network:mac",
                "network.macs_differ",
                {**evidence, "registered_macs": sorted(registered_macs)},
                found=", ".join(macs) or "none",
                registered=", ".join(sorted(registered_macs)),
            )
        )
    if findings:
        return findings
    return [say(Status.PASS, "host", "network.addresses_match", evidence)]


def time_sync(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    """A time service starts at boot, so log times can be trusted (E12)."""
    found = facts.time_sync
    if found.enabled_services:
        return [
            say(
                Status.PASS,
                "host",
                "network.time_synced",
                {"services": list(found.enabled_services)},
                services=", ".join(found.enabled_services),
            )
        ]
    return [
        say(Status.FAIL, "host", "network.no_time_sync", {"looked_for": list(found.looked_for)})
    ]
