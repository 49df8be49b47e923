"""This machine, scanned for real: every check gives a verdict, none an error."""

from __future__ import annotations

import ipaddress
import json
import socket
from pathlib import Path

from checks.api import collect_inventory, run_scan
from checks.host import HostContext
from checks.registry import REGISTRY
from checks.runner import CommandRunner
from tests.checks.hosttree import HostTree, tool
from tests.checks.scan_helpers import scan_json


def test_live_scan_has_no_error() -> None:
    returncode, results = scan_json(None)
    errors = [r for r in results if r["status"] == "error"]
    assert errors == []
    assert {r["check_id"] for r in results} == set(REGISTRY)
    assert returncode == (1 if any(r["status"] == "fail" for r in results) else 0)


def test_live_scan_runs_commands() -> None:
    results = run_scan({c: {"enabled": c == "patch.security_pending"} for c in REGISTRY})
    assert [r["check_id"] for r in results] == ["patch.security_pending"]
    assert results[0]["status"] in {"pass", "fail"}


def test_live_inventory_matches_the_host() -> None:
    inventory = collect_inventory()
    assert inventory["hostname"] == socket.gethostname()
    assert inventory["os"].startswith("Debian GNU/Linux")
    assert inventory["kernel"] and inventory["architecture"]
    names = {entry["interface"] for entry in inventory["addresses"]}
    assert "lo" in names
    lo = next(entry for entry in inventory["addresses"] if entry["interface"] == "lo")
    assert "127.0.0.1/8" in lo["ipv4"]
    json.dumps(inventory)


def test_inventory_of_a_tree_reads_copied_kernel_files(clean: HostTree) -> None:
    """Copies of this host's /sys and /proc network files give the addresses `ip` reports."""
    tree = clean
    for name in ("fib_trie", "route", "if_inet6"):
        source = f"/proc/net/{name}"
        tree.write(source, Path(source).read_text())
    net = tree.path("/sys/class/net")
    for interface in socket.if_nameindex():
        mac = Path(f"/sys/class/net/{interface[1]}/address").read_text()
        tree.write(f"/sys/class/net/{interface[1]}/address", mac)
    inventory = collect_inventory(tree.root)
    assert inventory["hostname"] == "pc-101"
    assert inventory["os"].startswith("Debian GNU/Linux")
    assert inventory["architecture"] == ""
    assert net.is_dir()
    live = HostContext.live(CommandRunner()).run([tool("ip"), "-j", "addr"], why="test")
    expected = {}
    for link in json.loads(live.stdout):
        v4 = {a["local"] for a in link.get("addr_info", []) if a["family"] == "inet"}
        v6 = {
            str(ipaddress.IPv6Address(a["local"]))
            for a in link.get("addr_info", [])
            if a["family"] == "inet6"
        }
        expected[link["ifname"]] = (link.get("address", ""), v4, v6)
    got = {
        entry["interface"]: (
            entry["mac"],
            set(entry["ipv4"]),
            {a.split("/")[0] for a in entry["ipv6"]},
        )
        for entry in inventory["addresses"]
    }
    assert got == expected


def test_live_scan_as_a_normal_user_says_no_privilege_never_pass() -> None:
    nobody = [tool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    _, results = scan_json(None, prefix=nobody)
    by_check: dict[str, set[str]] = {}
    for result in results:
        by_check.setdefault(result["check_id"], set()).add(result["status"])
    assert not [r for r in results if r["status"] == "error"]
    # The kernel's rule set, /etc/shadow and other users' open files need root.
    for check_id in ("firewall.host_firewall", "accounts.weak_password", "accounts.password_age"):
        assert by_check[check_id] == {"no_privilege"}, check_id
