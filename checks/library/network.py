"""Network exposure: listening ports and rogue DHCP servers."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from checks.facts import ListeningSocket
from checks.factset import Facts
from checks.model import Finding, Severity, Status

# Services that send passwords in clear text: worse than an unapproved port in general.
CLEARTEXT_TCP_PORTS = {21: "ftp", 23: "telnet", 512: "rexec", 513: "rlogin", 514: "rsh"}
DHCP_SERVER_PORT = 67


def _exposed(
    sockets: tuple[ListeningSocket, ...], protocol: str, include_loopback: bool
) -> dict[int, list[ListeningSocket]]:
    by_port: dict[int, list[ListeningSocket]] = defaultdict(list)
    for sock in sockets:
        if sock.protocol == protocol and (include_loopback or not sock.is_loopback):
            by_port[sock.port].append(sock)
    return dict(by_port)


def listening(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    approved = set(params["approved_tcp_ports"])
    sockets = facts.listening_sockets
    exposed = _exposed(sockets, "tcp", params["include_loopback"])
    loopback_only = sorted(
        {s.port for s in sockets if s.protocol == "tcp" and s.is_loopback} - set(exposed)
    )
    unapproved = {port: socks for port, socks in exposed.items() if port not in approved}
    if not unapproved:
        return [
            Finding(
                Status.PASS,
                "host",
                f"every listening TCP port is approved ({len(exposed)} reachable)",
                {
                    "listening": sorted(exposed),
                    "approved": sorted(approved),
                    "loopback_only": loopback_only,
                },
            )
        ]
    findings = []
    for port, socks in sorted(unapproved.items()):
        service = CLEARTEXT_TCP_PORTS.get(port)
        message = f"TCP port {port} is listening but not on the approved list"
        if service:
            message += f"; it is usually {service}, which sends passwords in clear text"
        findings.append(
            Finding(
                Status.FAIL,
                f"port:tcp/{port}",
                message,
                {
                    "addresses": sorted({s.address for s in socks}),
                    "uids": sorted({s.uid for s in socks}),
                    "approved": sorted(approved),
                },
                severity=Severity.HIGH if service else None,
            )
        )
    return findings


def dhcp_server(facts: Facts, params: dict[str, Any]) -> list[Finding]:
    exposed = _exposed(facts.listening_sockets, "udp", include_loopback=False)
    servers = exposed.get(DHCP_SERVER_PORT, [])
    if not servers:
        return [Finding(Status.PASS, "host", "no DHCP server is listening on UDP port 67")]
    addresses = sorted({s.address for s in servers})
    if params["approved_dhcp_server"]:
        return [
            Finding(
                Status.PASS,
                "port:udp/67",
                "a DHCP server is listening, and this host is approved to run one",
                {"addresses": addresses},
            )
        ]
    return [
        Finding(
            Status.FAIL,
            "port:udp/67",
            "a DHCP server is listening on UDP port 67; a private DHCP server can hand out "
            "unregistered addresses",
            {"addresses": addresses, "uids": sorted({s.uid for s in servers})},
        )
    ]
