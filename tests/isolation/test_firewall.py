"""The Linux firewall of host isolation (agent/isolation/firewall.py), for real, in network
namespaces made by the test (tests/isolation/netns.py): nftables in its own table, and the
iptables fallback. Before, the host reaches the outside and is reached from it; isolated, only
its server link (that address and port) and loopback work, both ways; released, everything
works again, and the host's own rules were never touched."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator

import pytest

from agent.isolation.firewall import (
    NFT_TABLE,
    IsolationUnsupported,
    LinuxFirewall,
    ServerLink,
    WindowsFirewall,
    nft_ruleset,
    outbound_blocked,
)
from tests.harness import free_port
from tests.isolation.netns import Lab, lab

# The host's own rules, which isolation must leave exactly as they were.
HOST_RULES = """table inet host_own {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 9999 counter accept
  }
}
"""
LOOPBACK_PROBE = (
    "import socket; s = socket.create_server(('127.0.0.1', 0)); "
    "socket.create_connection(s.getsockname(), timeout=3)"
)


class Listener:
    """A TCP listener on the lab's server address (``Lab.listen``) that accepts and closes."""

    def __init__(self, listening: socket.socket) -> None:
        self.socket = listening
        self.port = self.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            connection.close()

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def network() -> Iterator[Lab]:
    with lab() as made:
        yield made


@pytest.fixture
def listeners(network: Lab) -> Iterator[dict[str, object]]:
    server = Listener(network.listen())
    other = Listener(network.listen())  # the server's machine, another port
    outside_port, host_port = free_port(), free_port()
    outside = network.popen(
        network.outside,
        sys.executable,
        "-m",
        "http.server",
        "--bind",
        network.outside_address,
        str(outside_port),
        log="/dev/null",
    )
    inside = network.popen(
        network.host,
        sys.executable,
        "-m",
        "http.server",
        "--bind",
        network.host_outside_address,
        str(host_port),
        log="/dev/null",
    )
    try:
        for namespace, address, port in (
            (network.host, network.outside_address, outside_port),
            (network.outside, network.host_outside_address, host_port),
        ):
            for _ in range(50):
                if network.connects(namespace, address, port):
                    break
            else:
                raise AssertionError(f"{address}:{port} never answered from {namespace}")
        yield {"server": server, "other": other, "outside": outside_port, "host": host_port}
    finally:
        for process in (outside, inside):
            process.terminate()
            process.wait(timeout=30)
        server.close()
        other.close()


def reachability(network: Lab, ports: dict[str, object]) -> dict[str, bool]:
    server, other = ports["server"], ports["other"]
    assert isinstance(server, Listener) and isinstance(other, Listener)
    return {
        "server": network.connects(network.host, network.server_address, server.port),
        "server_other_port": network.connects(network.host, network.server_address, other.port),
        "outside_from_host": network.connects(
            network.host,
            network.outside_address,
            int(ports["outside"]),  # type: ignore[arg-type]
        ),
        "host_from_outside": network.connects(
            network.outside,
            network.host_outside_address,
            int(ports["host"]),  # type: ignore[arg-type]
        ),
    }


OPEN = {
    "server": True,
    "server_other_port": True,
    "outside_from_host": True,
    "host_from_outside": True,
}
ISOLATED = {
    "server": True,
    "server_other_port": False,
    "outside_from_host": False,
    "host_from_outside": False,
}


@pytest.mark.parametrize("use_nftables", [True, False], ids=["nftables", "iptables"])
def test_isolation_keeps_only_the_server_link(
    network: Lab, listeners: dict[str, object], use_nftables: bool
) -> None:
    server = listeners["server"]
    assert isinstance(server, Listener)
    own = network.run(network.host, "nft", "-f", "-", stdin=HOST_RULES)
    assert own.returncode == 0, own.stderr
    own_before = network.run(network.host, "nft", "list", "table", "inet", "host_own").stdout

    assert reachability(network, listeners) == OPEN
    firewall = LinuxFirewall(use_nftables=use_nftables)
    link = ServerLink((network.server_address,), server.port)
    applied = network.inside(network.host, lambda: firewall.apply(link))
    assert applied.backend == ("nftables" if use_nftables else "iptables")
    assert network.server_address in applied.rules
    assert network.inside(network.host, firewall.present)
    # The probe that must fail, as the agent runs it.
    assert network.inside(
        network.host, lambda: outbound_blocked(network.server_address, server.port + 1)
    )
    assert reachability(network, listeners) == ISOLATED
    # Loopback stays.
    assert network.run(network.host, sys.executable, "-c", LOOPBACK_PROBE).returncode == 0
    # Applying again replaces, never doubles.
    again = network.inside(network.host, lambda: firewall.apply(link))
    assert again.rules.count(network.server_address) == applied.rules.count(network.server_address)

    network.inside(network.host, firewall.remove)
    assert not network.inside(network.host, firewall.present)
    assert not network.inside(
        network.host, lambda: outbound_blocked(network.server_address, server.port + 1)
    )
    assert reachability(network, listeners) == OPEN
    assert NFT_TABLE not in network.nft_tables(network.host)
    # The host's own table was never touched.
    assert (
        network.run(network.host, "nft", "list", "table", "inet", "host_own").stdout == own_before
    )


@pytest.mark.parametrize("use_nftables", [True, False], ids=["nftables", "iptables"])
def test_a_dual_stack_server_link_is_accepted_by_the_kernel(
    network: Lab, use_nftables: bool
) -> None:
    firewall = LinuxFirewall(use_nftables=use_nftables)
    link = ServerLink(("10.0.0.5", "fd00::5"), 8443)
    applied = network.inside(network.host, lambda: firewall.apply(link))
    assert "fd00::5" in applied.rules and "10.0.0.5" in applied.rules
    network.inside(network.host, firewall.remove)
    assert not network.inside(network.host, firewall.present)


def test_the_ruleset_allows_only_the_link() -> None:
    text = nft_ruleset(ServerLink(("10.0.0.5", "fd00::5"), 8443))
    assert "ip daddr 10.0.0.5 tcp dport 8443 accept" in text
    assert "ip6 saddr fd00::5 tcp sport 8443 accept" in text
    assert text.count("policy drop") == 3  # input, forward, output
    with pytest.raises(ValueError):
        ServerLink(("server.example",), 8443)  # rules hold numbers only: no DNS when isolated


def test_windows_says_not_yet_implemented() -> None:
    with pytest.raises(IsolationUnsupported, match="not yet implemented on Windows"):
        WindowsFirewall().apply(ServerLink(("10.0.0.5",), 8443))
    assert WindowsFirewall().present() is False
