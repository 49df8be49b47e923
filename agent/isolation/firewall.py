"""The seam between isolation and the operating system's packet filter.

:class:`Firewall` is what the controller needs: set the isolation rules for a server link,
take them away, say whether they are in place. :class:`LinuxFirewall` uses nftables in a table
of its own (``inet xunjian_isolation``), so the host's own rule set is never touched: the
table is added and deleted whole, in one nft transaction each. A packet must pass every base
chain of every table, so this table's drop policy isolates whatever the host's rules allow,
and deleting it restores exactly the host's rules. Where nft is missing or the kernel has no
nf_tables, iptables and ip6tables are the fallback, with chains of their own jumped to first
from INPUT, OUTPUT and FORWARD. :class:`WindowsFirewall` is the Windows half of the seam, not
built yet: it refuses with :class:`IsolationUnsupported` (the Windows issues add Windows
Firewall rules behind the same methods).

Allowed while isolated: loopback, TCP to and from the server's address and port (numeric,
taken at isolation from the enrollment's URL and kept, so no DNS is needed), and for an IPv6
server the neighbour discovery that IPv6 cannot work without. Everything else, in, out and
forwarded, is dropped.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Protocol

NFT_TABLE = "xunjian_isolation"
# Ahead of the usual filter priority (0), so the decision is this table's before the host's.
NFT_PRIORITY = -10
IPTABLES_CHAINS = {
    "INPUT": "XUNJIAN-ISO-IN",
    "OUTPUT": "XUNJIAN-ISO-OUT",
    "FORWARD": "XUNJIAN-ISO-FWD",
}
COMMAND_TIMEOUT_SECONDS = 20.0
# A service's PATH often lacks the sbin folders where nft and iptables live.
SBIN_PATH = "/usr/sbin:/sbin:/usr/bin:/bin"
MAX_OUTPUT = 64 * 1024


class FirewallError(Exception):
    """The packet filter could not be set or read; the message says which command and why."""


class IsolationUnsupported(FirewallError):
    """This platform has no isolation yet."""


@dataclass(frozen=True)
class ServerLink:
    """The one connection an isolated host keeps: the server's addresses and TCP port."""

    addresses: tuple[str, ...]
    port: int

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("a server link needs at least one address")
        for address in self.addresses:
            ipaddress.ip_address(address)  # ValueError for a name: rules hold numbers only
        if not 0 < self.port < 65536:
            raise ValueError(f"bad port {self.port}")

    def as_dict(self) -> dict[str, object]:
        return {"addresses": list(self.addresses), "port": self.port}


@dataclass(frozen=True)
class AppliedRules:
    backend: str  # "nftables" or "iptables"
    rules: str  # the rules as the packet filter lists them back


class Firewall(Protocol):
    """What isolation needs of a platform's packet filter."""

    def apply(self, link: ServerLink) -> AppliedRules:
        """Replace any isolation rules by ones for ``link``; raise FirewallError on failure."""
        ...

    def remove(self) -> None:
        """Take every isolation rule away (nothing to do is not an error)."""
        ...

    def present(self) -> bool:
        """Whether isolation rules are in place now."""
        ...


def _split(link: ServerLink) -> tuple[list[str], list[str]]:
    v4 = [a for a in link.addresses if ipaddress.ip_address(a).version == 4]
    v6 = [a for a in link.addresses if ipaddress.ip_address(a).version == 6]
    return v4, v6


def nft_ruleset(link: ServerLink) -> str:
    """The nft script: the table replaced whole in one transaction (add, delete, define)."""
    v4, v6 = _split(link)
    allow_in = ['iif "lo" accept']
    allow_out = ['oif "lo" accept']
    for address in v4:
        allow_in.append(f"ip saddr {address} tcp sport {link.port} accept")
        allow_out.append(f"ip daddr {address} tcp dport {link.port} accept")
    for address in v6:
        allow_in.append(f"ip6 saddr {address} tcp sport {link.port} accept")
        allow_out.append(f"ip6 daddr {address} tcp dport {link.port} accept")
    if v6:
        discovery = (
            "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept"
        )
        allow_in.append(discovery)
        allow_out.append(discovery)

    def chain(name: str, hook: str, rules: list[str]) -> str:
        body = "".join(f"\n    {rule}" for rule in rules)
        return (
            f"  chain {name} {{\n    type filter hook {hook} priority {NFT_PRIORITY}; "
            f"policy drop;{body}\n  }}\n"
        )

    return (
        f"add table inet {NFT_TABLE}\n"
        f"delete table inet {NFT_TABLE}\n"
        f"table inet {NFT_TABLE} {{\n"
        + chain("input", "input", allow_in)
        + chain("forward", "forward", [])
        + chain("output", "output", allow_out)
        + "}\n"
    )


def _tool(name: str) -> str | None:
    return shutil.which(name, path=f"{os.environ.get('PATH', '')}:{SBIN_PATH}")


def _run(words: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            words,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FirewallError(f"{words[0]}: {exc}") from exc
    return done


def _failure(words: list[str], done: subprocess.CompletedProcess[str]) -> FirewallError:
    said = (done.stderr or done.stdout or "").strip()[:500]
    return FirewallError(f"`{' '.join(words)}` exited {done.returncode}: {said}")


class LinuxFirewall:
    """nftables in its own table; iptables/ip6tables as the fallback. ``use_nftables=False``
    goes straight to the fallback (hosts whose nftables is broken; the tests of the fallback)."""

    def __init__(self, use_nftables: bool = True) -> None:
        self.use_nftables = use_nftables

    def apply(self, link: ServerLink) -> AppliedRules:
        nft = _tool("nft") if self.use_nftables else None
        problems: list[str] = []
        if nft is not None:
            try:
                return self._apply_nft(nft, link)
            except FirewallError as exc:
                problems.append(f"nftables: {exc}")
        elif self.use_nftables:
            problems.append("nftables: nft is not installed")
        try:
            return self._apply_iptables(link)
        except FirewallError as exc:
            problems.append(f"iptables: {exc}")
        self.remove()  # leave no half-made rules behind
        raise FirewallError("; ".join(problems))

    def _apply_nft(self, nft: str, link: ServerLink) -> AppliedRules:
        done = _run([nft, "-f", "-"], stdin=nft_ruleset(link))
        if done.returncode != 0:
            raise _failure([nft, "-f", "-"], done)
        listed = _run([nft, "list", "table", "inet", NFT_TABLE])
        if listed.returncode != 0:
            raise _failure([nft, "list", "table", "inet", NFT_TABLE], listed)
        self._remove_iptables()  # a fallback set earlier would otherwise stay in force
        return AppliedRules("nftables", listed.stdout[:MAX_OUTPUT])

    def _apply_iptables(self, link: ServerLink) -> AppliedRules:
        v4, v6 = _split(link)
        listings: list[str] = []
        for tool_name, addresses in (("iptables", v4), ("ip6tables", v6)):
            tool = _tool(tool_name)
            if tool is None:
                raise FirewallError(f"{tool_name} is not installed")
            self._remove_iptables_of(tool)
            steps: list[list[str]] = [["-N", chain] for chain in IPTABLES_CHAINS.values()]
            inbound, outbound, forward = IPTABLES_CHAINS.values()
            steps += [["-A", inbound, "-i", "lo", "-j", "ACCEPT"]]
            steps += [["-A", outbound, "-o", "lo", "-j", "ACCEPT"]]
            port = str(link.port)
            for address in addresses:
                steps.append(
                    ["-A", inbound, "-s", address, "-p", "tcp", "--sport", port, "-j", "ACCEPT"]
                )
                steps.append(
                    ["-A", outbound, "-d", address, "-p", "tcp", "--dport", port, "-j", "ACCEPT"]
                )
            if tool_name == "ip6tables" and addresses:
                for kind in ("neighbour-solicitation", "neighbour-advertisement"):
                    for chain in (inbound, outbound):
                        steps.append(
                            ["-A", chain, "-p", "ipv6-icmp", "--icmpv6-type", kind, "-j", "ACCEPT"]
                        )
            steps += [["-A", chain, "-j", "DROP"] for chain in (inbound, outbound, forward)]
            steps += [["-I", hook, "1", "-j", chain] for hook, chain in IPTABLES_CHAINS.items()]
            for step in steps:
                words = [tool, "-w", *step]
                done = _run(words)
                if done.returncode != 0:
                    raise _failure(words, done)
            for chain in IPTABLES_CHAINS.values():
                listed = _run([tool, "-w", "-S", chain])
                listings.append(listed.stdout)
        return AppliedRules("iptables", "".join(listings)[:MAX_OUTPUT])

    def remove(self) -> None:
        nft = _tool("nft")
        if nft is not None and self._nft_present(nft):
            words = [nft, "delete", "table", "inet", NFT_TABLE]
            done = _run(words)
            if done.returncode != 0:
                raise _failure(words, done)
        self._remove_iptables()

    def _remove_iptables(self) -> None:
        for tool_name in ("iptables", "ip6tables"):
            tool = _tool(tool_name)
            if tool is not None:
                self._remove_iptables_of(tool)

    @staticmethod
    def _remove_iptables_of(tool: str) -> None:
        # Each step may find nothing to do (no such chain or rule): that is the goal reached.
        for hook, chain in IPTABLES_CHAINS.items():
            while _run([tool, "-w", "-D", hook, "-j", chain]).returncode == 0:
                pass
        for chain in IPTABLES_CHAINS.values():
            _run([tool, "-w", "-F", chain])
            _run([tool, "-w", "-X", chain])

    @staticmethod
    def _nft_present(nft: str) -> bool:
        return _run([nft, "list", "table", "inet", NFT_TABLE]).returncode == 0

    def present(self) -> bool:
        nft = _tool("nft")
        if nft is not None and self._nft_present(nft):
            return True
        tool = _tool("iptables")
        if tool is None:
            return False
        return _run([tool, "-w", "-S", IPTABLES_CHAINS["OUTPUT"]]).returncode == 0


class WindowsFirewall:
    """Not built yet: the Windows issues add Windows Firewall rules behind these methods."""

    MESSAGE = "host isolation is not yet implemented on Windows (Windows Firewall rules)"

    def apply(self, link: ServerLink) -> AppliedRules:
        raise IsolationUnsupported(self.MESSAGE)

    def remove(self) -> None:
        raise IsolationUnsupported(self.MESSAGE)

    def present(self) -> bool:
        return False


def platform_firewall() -> Firewall:
    if sys.platform == "win32":
        return WindowsFirewall()
    if sys.platform.startswith("linux"):
        return LinuxFirewall()
    return UnsupportedFirewall(sys.platform)


class UnsupportedFirewall:
    def __init__(self, platform: str) -> None:
        self.message = f"host isolation is not implemented on {platform}"

    def apply(self, link: ServerLink) -> AppliedRules:
        raise IsolationUnsupported(self.message)

    def remove(self) -> None:
        raise IsolationUnsupported(self.message)

    def present(self) -> bool:
        return False


def outbound_blocked(address: str, port: int) -> bool:
    """The probe that must fail: one UDP datagram to the server's address on a port the link
    does not allow. The output hook's drop makes the kernel refuse it (EPERM) at once; without
    the rules the datagram leaves. Either way nothing waits for an answer."""
    family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.sendto(b"xunjian isolation probe", (address, port))
        except PermissionError:
            return True
        except OSError as exc:
            # EPERM as errno on some paths; anything else (no route) proves nothing.
            return exc.errno == errno.EPERM
    return False
