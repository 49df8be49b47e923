"""Listening sockets from the kernel's tables in /proc/net."""

from __future__ import annotations

import ipaddress
import sys

from checks.errors import NotApplicable
from checks.facts import ListeningSocket
from checks.host import HostContext

_TCP_LISTEN = "0A"
_UDP_UNCONNECTED = "07"
PROC_NET_TABLES = (
    ("/proc/net/tcp", "tcp", "ipv4"),
    ("/proc/net/tcp6", "tcp", "ipv6"),
    ("/proc/net/udp", "udp", "ipv4"),
    ("/proc/net/udp6", "udp", "ipv6"),
)


def _word_to_host_order(word: bytes) -> bytes:
    # The kernel prints each 32-bit word of the address in the host's byte order.
    return word[::-1] if sys.byteorder == "little" else word


def decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    ordered = b"".join(_word_to_host_order(raw[i : i + 4]) for i in range(0, len(raw), 4))
    if len(ordered) == 4:
        return str(ipaddress.IPv4Address(ordered))
    return str(ipaddress.IPv6Address(ordered))


def parse_proc_net(text: str, protocol: str, family: str) -> list[ListeningSocket]:
    sockets = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote, state = fields[1], fields[2], fields[3]
        remote_port = remote.rsplit(":", 1)[-1]
        listening = (
            state == _TCP_LISTEN
            if protocol == "tcp"
            else (state == _UDP_UNCONNECTED and int(remote_port, 16) == 0)
        )
        if not listening:
            continue
        address_hex, port_hex = local.rsplit(":", 1)
        sockets.append(
            ListeningSocket(
                protocol=protocol,
                family=family,
                address=decode_address(address_hex),
                port=int(port_hex, 16),
                uid=int(fields[7]),
                inode=int(fields[9]),
            )
        )
    return sockets


def collect_listening_sockets(host: HostContext) -> tuple[ListeningSocket, ...]:
    sockets: list[ListeningSocket] = []
    tables_read = 0
    for path, protocol, family in PROC_NET_TABLES:
        text = host.read_optional(path)
        if text is None:
            continue  # IPv6 may be off; the kernel then has no tcp6/udp6 tables
        tables_read += 1
        sockets.extend(parse_proc_net(text, protocol, family))
    if tables_read == 0:
        raise NotApplicable("there is no /proc/net/tcp to read listening sockets from")
    return tuple(sockets)
