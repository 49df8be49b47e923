"""Host inventory: name, operating system, kernel, architecture, network addresses."""

from __future__ import annotations

import ipaddress
import json
import platform
import socket
from typing import Any

from checks.collectors.linux.system import collect_os_release
from checks.errors import CollectError
from checks.host import HostContext
from checks.model import truncate_text

MAX_INTERFACES = 64
MAX_ADDRESSES_PER_INTERFACE = 32
_MAX_TEXT = 200


def _hostname(host: HostContext) -> str:
    if host.is_tree:
        return (host.read_optional("/etc/hostname") or "").strip()
    return socket.gethostname()


def _linux_os(host: HostContext) -> tuple[str, str]:
    """The pretty name and VERSION_ID of /etc/os-release ("", "" when unreadable)."""
    try:
        release = collect_os_release(host)
    except CollectError:
        return "", ""
    return release.pretty_name, release.version_id


def _kernel(host: HostContext) -> str:
    if host.is_tree:
        return (host.read_optional("/proc/sys/kernel/osrelease") or "").strip()
    return platform.release()


def _architecture(host: HostContext) -> str:
    # A folder does not say which processor it was built for; guessing would mislead.
    return "" if host.is_tree else platform.machine()


def _interfaces_from_sysfs(host: HostContext) -> dict[str, dict[str, Any]]:
    interfaces: dict[str, dict[str, Any]] = {}
    net = host.path("/sys/class/net")
    if not net.is_dir():
        return interfaces
    for entry in sorted(net.iterdir(), key=lambda p: p.name)[:MAX_INTERFACES]:
        mac = (host.read_optional(f"/sys/class/net/{entry.name}/address") or "").strip()
        interfaces[entry.name] = {"interface": entry.name, "mac": mac, "ipv4": [], "ipv6": []}
    return interfaces


def _add_ipv6_from_proc(host: HostContext, interfaces: dict[str, dict[str, Any]]) -> None:
    for line in (host.read_optional("/proc/net/if_inet6") or "").splitlines():
        fields = line.split()
        if len(fields) < 6:
            continue
        address = str(ipaddress.IPv6Address(bytes.fromhex(fields[0])))
        prefix = int(fields[2], 16)
        name = fields[5]
        entry = interfaces.setdefault(name, {"interface": name, "mac": "", "ipv4": [], "ipv6": []})
        entry["ipv6"].append(f"{address}/{prefix}")


def _add_ipv4_from_proc(host: HostContext, interfaces: dict[str, dict[str, Any]]) -> None:
    """IPv4 addresses from the routing trie: the kernel lists each local address as a /32 host
    LOCAL leaf; the route table tells which interface's network holds it."""
    local: list[str] = []
    previous = ""
    for line in (host.read_optional("/proc/net/fib_trie") or "").splitlines():
        stripped = line.strip()
        if stripped.startswith("/32 host LOCAL") and previous:
            local.append(previous)
        parts = stripped.split()
        if len(parts) >= 2 and parts[0] in {"|--", "+--"}:
            previous = parts[1].split("/")[0]
    routes = []
    for line in (host.read_optional("/proc/net/route") or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8:
            destination = _le_ipv4(fields[1])
            mask = _le_ipv4(fields[7])
            network = ipaddress.IPv4Network(f"{destination}/{mask}", strict=False)
            routes.append((network, fields[0]))
    for address in dict.fromkeys(local):
        ip = ipaddress.IPv4Address(address)
        name = (
            "lo"
            if ip.is_loopback
            else next((iface for net, iface in routes if ip in net and net.prefixlen > 0), "")
        )
        if not name:
            continue
        entry = interfaces.setdefault(name, {"interface": name, "mac": "", "ipv4": [], "ipv6": []})
        entry["ipv4"].append(address)


def _le_ipv4(hex_text: str) -> str:
    return str(ipaddress.IPv4Address(bytes.fromhex(hex_text)[::-1]))


def _interfaces_from_ip_command(host: HostContext) -> dict[str, dict[str, Any]] | None:
    try:
        result = host.run(["ip", "-j", "addr"], why="listing addresses")
    except CollectError:
        return None
    if result.returncode != 0 or result.truncated:
        return None
    try:
        links = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    interfaces: dict[str, dict[str, Any]] = {}
    for link in links[:MAX_INTERFACES]:
        name = str(link.get("ifname", ""))
        entry = {"interface": name, "mac": str(link.get("address", "")), "ipv4": [], "ipv6": []}
        for info in link.get("addr_info", []):
            family = {"inet": "ipv4", "inet6": "ipv6"}.get(info.get("family", ""))
            if family:
                entry[family].append(f"{info.get('local')}/{info.get('prefixlen')}")
        interfaces[name] = entry
    return interfaces


def _bounded(interfaces: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    addresses = []
    for entry in list(interfaces.values())[:MAX_INTERFACES]:
        addresses.append(
            {
                "interface": truncate_text(entry["interface"], 64),
                "mac": truncate_text(entry["mac"], 64),
                "ipv4": [truncate_text(a, 64) for a in entry["ipv4"][:MAX_ADDRESSES_PER_INTERFACE]],
                "ipv6": [truncate_text(a, 64) for a in entry["ipv6"][:MAX_ADDRESSES_PER_INTERFACE]],
            }
        )
    return addresses


def collect_inventory_from(host: HostContext) -> dict[str, Any]:
    """hostname, os, os_version, os_build, kernel, architecture, platform and addresses; the
    agent sends platform and the os fields as the report's ``platform`` (agent/report.py)."""
    if host.platform == "windows":
        from checks.inventory_windows import windows_computer_name, windows_os

        fields = windows_os(host)
        hostname = windows_computer_name(host) if host.is_tree else socket.gethostname()
        return {
            "hostname": truncate_text(hostname, _MAX_TEXT),
            "os": truncate_text(fields["os"], _MAX_TEXT),
            "os_version": truncate_text(fields["os_version"], _MAX_TEXT),
            "os_build": truncate_text(fields["os_build"], _MAX_TEXT),
            "kernel": "",
            "architecture": "",
            "platform": host.platform,
            "addresses": [],
        }
    interfaces = None if host.is_tree else _interfaces_from_ip_command(host)
    if interfaces is None:
        interfaces = _interfaces_from_sysfs(host)
        _add_ipv4_from_proc(host, interfaces)
        _add_ipv6_from_proc(host, interfaces)
    os_name, os_version = _linux_os(host)
    kernel = truncate_text(_kernel(host), _MAX_TEXT)
    return {
        "hostname": truncate_text(_hostname(host), _MAX_TEXT),
        "os": truncate_text(os_name, _MAX_TEXT),
        "os_version": truncate_text(os_version, _MAX_TEXT),
        # On Linux the kernel's release is the build that says how patched the system is.
        "os_build": kernel,
        "kernel": kernel,
        "architecture": truncate_text(_architecture(host), _MAX_TEXT),
        "platform": host.platform,
        "addresses": _bounded(interfaces),
    }
