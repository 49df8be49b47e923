"""Network namespaces the isolation tests make and always remove (``ip netns``, veth pairs).

The layout, three namespaces of the test's own, none of them the root one::

    "server" namespace               "host" namespace (the agent)       "outside" namespace
    10.231.0.1 ──────── veth ──────── 10.231.0.2
                                      10.232.0.1 ──────── veth ──────── 10.232.0.2

The host reaches the server over the first pair and the outside world over the second; nothing
routes between the server and the outside (no forwarding is turned on anywhere). Each veth pair
is made directly between two of the lab's namespaces (``ip -n A link add ... peer ... netns
B``), so the root namespace never sees a link or an address come or go. It used to hold the
server's end: each lab then changed the root namespace's addresses, and Chromium, which the
browser tests run there at the same time, aborts whatever page it is loading on such a change
(``net::ERR_NETWORK_CHANGED``, 3 of ~12 whole runs). The addresses are the same in every lab:
namespaces do not share them, so parallel tests need no numbering either.

The real server keeps running in the root namespace on loopback (where PostgreSQL and the
browser are): ``Lab.relay`` listens on the server's lab address in the server namespace and
carries each connection to it byte for byte (the TLS stays end to end), so the agent reaches
the server only over its veth link, through its own firewall, as on a real network.
Deleting a namespace deletes its veth ends and its nftables and iptables rules with it, so the
teardown leaves the machine as it was even when a test failed half way.

Code runs inside a namespace two ways: a command through ``ip netns exec`` (the agent, the
web servers, the probes), or a function in a thread that entered the namespace with setns(2)
(the firewall tests: the firewall's own subprocesses are forked from that thread and inherit
its namespace; a socket made there stays in that namespace whichever thread uses it later).
"""

from __future__ import annotations

import ctypes
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000


def ip(*words: str) -> None:
    subprocess.run(["ip", *words], check=True, capture_output=True, timeout=30)


@dataclass(frozen=True)
class Lab:
    server: str  # the server's namespace (its address; the server itself runs on loopback)
    host: str  # the agent's namespace
    outside: str  # the outside world's namespace
    server_address: str  # in the server namespace
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

    def listen(self, port: int = 0) -> socket.socket:
        """A listening TCP socket on the server's lab address (``port`` 0: any free one)."""
        return self.inside(self.server, lambda: socket.create_server((self.server_address, port)))

    def relay(self, port: int) -> Relay:
        """Carry connections to the server's lab address and ``port`` to the real server on
        127.0.0.1 and the same port in the root namespace (the caller closes it)."""
        return Relay(self.listen(port), ("127.0.0.1", port))


class Relay:
    """Accepts on ``listener`` and copies each connection both ways to ``target`` until either
    side closes: a plain TCP relay, so TLS and the HTTP in it pass through untouched."""

    def __init__(self, listener: socket.socket, target: tuple[str, int]) -> None:
        self.listener = listener
        self.target = target
        threading.Thread(target=self._accept, name="lab-relay", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()  # as a server that is down: the connection is refused or reset
                continue
            upstream.settimeout(None)
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()

    def close(self) -> None:
        self.listener.close()


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    """Both directions of one relayed connection; both sockets closed when both have ended."""
    back = threading.Thread(target=_copy, args=(upstream, client), daemon=True)
    back.start()
    _copy(client, upstream)
    back.join()
    client.close()
    upstream.close()


def _copy(source: socket.socket, sink: socket.socket) -> None:
    """One direction: its end is passed on as a half close; an error on either side ends
    both directions."""
    try:
        while chunk := source.recv(65536):
            sink.sendall(chunk)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


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


@contextmanager
def lab() -> Iterator[Lab]:
    """Make the namespaces and links; remove them whatever happens."""
    tag = secrets.token_hex(3)
    server, host, outside = f"xjiso-s-{tag}", f"xjiso-h-{tag}", f"xjiso-o-{tag}"
    made = Lab(
        server=server,
        host=host,
        outside=outside,
        server_address="10.231.0.1",
        host_address="10.231.0.2",
        host_outside_address="10.232.0.1",
        outside_address="10.232.0.2",
    )
    links = (  # (namespace, device, address) for both ends of both pairs
        ((server, "xjserver", made.server_address), (host, "xjtoserver", made.host_address)),
        (
            (host, "xjtooutside", made.host_outside_address),
            (outside, "xjoutside", made.outside_address),
        ),
    )
    try:
        for namespace in (server, host, outside):
            ip("netns", "add", namespace)
            ip("-n", namespace, "link", "set", "lo", "up")
        for (first, first_end, _), (second, second_end, _) in links:
            words = f"link add {first_end} type veth peer name {second_end} netns {second}"
            ip("-n", first, *words.split())
        for pair in links:
            for namespace, device, address in pair:
                ip("-n", namespace, "addr", "add", f"{address}/24", "dev", device)
                ip("-n", namespace, "link", "set", device, "up")
        yield made
    finally:
        for namespace in (server, host, outside):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
