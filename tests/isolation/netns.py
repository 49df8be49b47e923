"""Network namespaces the isolation tests make and always remove (``ip netns``, veth pairs).

The layout (``n`` is held by this test alone while its lab exists: tests/machine.py
``claim_number``, so parallel tests and runs never share the root namespace's subnet and need
no machine-wide lock; the namespace and link names are random)::

    root namespace (the server)          "host" namespace (the agent)        "outside" namespace
    10.231.n.1 ─────── veth ──────────── 10.231.n.2
                                         10.232.n.1 ─────── veth ─────────── 10.232.n.2

The host reaches the server over the first pair and the outside world over the second; nothing
routes between the server and the outside (no forwarding is turned on anywhere). Deleting a
namespace deletes its veth ends and its nftables and iptables rules with it, so the teardown
leaves the machine as it was even when a test failed half way.

Code runs inside a namespace two ways: a command through ``ip netns exec`` (the agent, the
web servers, the probes), or a function in a thread that entered the namespace with setns(2)
(the firewall tests: the firewall's own subprocesses are forked from that thread and inherit
its namespace).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from tests.machine import claim_number

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def ip(*words: str) -> None:
    subprocess.run(["ip", *words], check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class Lab:
    host: str  # the agent's namespace
    outside: str  # the outside world's namespace
    server_address: str  # in the root namespace
    host_address: str  # on the server link
    host_outside_address: str  # the host's address toward the outside
    outside_address: str

    def exec_words(self, namespace: str, *words: str) -> list[str]:
        return ["ip", "netns", "exec", namespace, *words]

    def run(
        self, namespace: str, *words: str, timeout: float = 60, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.exec_words(namespace, *words),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def popen(self, namespace: str, *words: str, log: str) -> subprocess.Popen[bytes]:
        with open(log, "ab") as sink:
            return subprocess.Popen(
                self.exec_words(namespace, *words), stdout=sink, stderr=subprocess.STDOUT
            )

    def connects(self, namespace: str, address: str, port: int) -> bool:
        """A TCP connection from ``namespace`` to ``address:port`` (3 s at most)."""
        probe = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({address!r}, {port}), timeout=3).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n"
        )
        return self.run(namespace, sys.executable, "-c", probe, timeout=30).returncode == 0

    def nft_tables(self, namespace: str) -> str:
        return self.run(namespace, "nft", "list", "tables").stdout

    def inside(self, namespace: str, function: Callable[[], T]) -> T:
        """Run ``function`` in a thread that entered ``namespace``'s network namespace."""
        return in_namespace(namespace, function)


def in_namespace(namespace: str, function: Callable[[], T]) -> T:
    outcome: dict[str, object] = {}

    def run() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns failed")
        finally:
            os.close(fd)
        try:
            outcome["value"] = function()
        except BaseException as exc:
            outcome["error"] = exc

    # A thread of its own: setns changes the calling thread only, and this one ends with it.
    thread = threading.Thread(target=run, name=f"netns-{namespace}")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _subnet_in_use(n: int) -> bool:
    """10.231.n.0/24 already on a link of the root namespace (a run of an older checkout,
    which picked ``n`` at random under the old machine-wide lock, or a lab left behind)."""
    shown = subprocess.run(
        ["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    return f" 10.231.{n}." in shown


@contextmanager
def lab() -> Iterator[Lab]:
    """Make the namespaces and links; remove them whatever happens."""
    with claim_number("netns", 1, 250, _subnet_in_use) as n:
        yield from _lab(n)


def _lab(n: int) -> Iterator[Lab]:
    tag = secrets.token_hex(3)
    host, outside = f"xjiso-h-{tag}", f"xjiso-o-{tag}"
    root_end, host_end = f"xjr{tag}", f"xjh{tag}"
    host_out, outside_end = f"xjx{tag}", f"xjo{tag}"
    made = Lab(
        host=host,
        outside=outside,
        server_address=f"10.231.{n}.1",
        host_address=f"10.231.{n}.2",
        host_outside_address=f"10.232.{n}.1",
        outside_address=f"10.232.{n}.2",
    )
    try:
        ip("netns", "add", host)
        ip("netns", "add", outside)
        ip("link", "add", root_end, "type", "veth", "peer", "name", host_end)
        ip("link", "set", host_end, "netns", host)
        ip("addr", "add", f"{made.server_address}/24", "dev", root_end)
        ip("link", "set", root_end, "up")
        ip("link", "add", host_out, "type", "veth", "peer", "name", outside_end)
        ip("link", "set", host_out, "netns", host)
        ip("link", "set", outside_end, "netns", outside)
        for namespace, device, address in (
            (host, host_end, made.host_address),
            (host, host_out, made.host_outside_address),
            (outside, outside_end, made.outside_address),
        ):
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
            ip("-n", namespace, "link", "set", device, "up")
        for namespace in (host, outside):
            ip("-n", namespace, "link", "set", "lo", "up")
        yield made
    finally:
        subprocess.run(["ip", "link", "del", root_end], capture_output=True, check=False)
        for namespace in (host, outside):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
