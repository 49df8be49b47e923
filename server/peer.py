"""Who is on the other end of a request: the TCP peer, or the client behind a trusted proxy.

POLICY.md E12 wants the client's address and source port in the logs. Behind a reverse proxy
(deploy/nginx/xunjian.conf) the TCP peer is the proxy itself, so the proxy passes the client's
values in headers:

* ``X-Forwarded-For``: the chain of addresses (nginx ``$proxy_add_x_forwarded_for``);
* ``X-Real-Port``: the source port of the connection the proxy received
  (nginx ``proxy_set_header X-Real-Port $remote_port;``).

Those headers are read only when the TCP peer is in ``trusted_proxies`` (config.json); from
any other peer they are ignored, since anybody can send them. The client is the rightmost
address of X-Forwarded-For that is not itself a trusted proxy (what each trusted hop appended;
whatever lies left of it was written by the client and proves nothing). The port belongs to the
connection into the nearest proxy, so it is used only when that client is the rightmost
address, i.e. it connected to the nearest proxy directly; behind a chain of trusted proxies the
client's port is unknown (None) unless the outer proxy is the only one that adds an address.

The result names a place to log, never a person: no code authenticates by address.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"
REAL_PORT = "HTTP_X_REAL_PORT"
MAX_FORWARDED_LENGTH = 2048
MAX_FORWARDED_HOPS = 32
MAX_TRUSTED_PROXIES = 64
logger = logging.getLogger("xunjian.server.peer")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxyError(ValueError):
    """A ``trusted_proxies`` entry is not an address or network; the message says which."""


def parse_trusted_proxies(values: object) -> tuple[str, ...]:
    """The config value checked and normalised: a list of addresses or CIDR networks
    (``"127.0.0.1"``, ``"10.0.0.0/8"``, ``"::1"``), returned as network strings."""
    if not isinstance(values, list | tuple):
        raise TrustedProxyError("trusted_proxies must be a list of IP addresses or networks")
    if len(values) > MAX_TRUSTED_PROXIES:
        raise TrustedProxyError(f"trusted_proxies may list at most {MAX_TRUSTED_PROXIES} entries")
    found: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise TrustedProxyError(f"trusted_proxies entry {value!r} is not a string")
        try:
            # strict: "10.0.0.1/8" (host bits set) is a typo for a network, not a network.
            network = ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as exc:
            raise TrustedProxyError(
                f"trusted_proxies entry {value!r} is not an IP address or network: {exc}"
            ) from exc
        if str(network) not in found:
            found.append(str(network))
    return tuple(found)


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item) for item in trusted)


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
    return address


def _is_trusted(address: Address, networks: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def _port(text: object) -> int | None:
    value = str(text).strip()
    if not value.isdigit() or len(value) > 5 or int(value) > 65535:
        return None
    return int(value)


@dataclass(frozen=True)
class Peer:
    """The client's address and source port; ``via`` is the proxy's ``address:port`` when
    the values came from a trusted proxy's headers, else empty."""

    address: str
    port: int | None
    via: str = ""

    def text(self) -> str:
        return f"{self.address or '-'}:{'-' if self.port is None else self.port}"


def _forwarded_client(header: str, networks: tuple[Network, ...]) -> tuple[Address, bool] | None:
    """(client, whether it is the rightmost hop) from X-Forwarded-For; None when unusable."""
    if len(header) > MAX_FORWARDED_LENGTH:
        return None
    hops = [part for part in header.split(",") if part.strip()]
    if not hops or len(hops) > MAX_FORWARDED_HOPS:
        return None
    addresses = [_address(part) for part in hops]
    if any(address is None for address in addresses):
        return None
    checked = [address for address in addresses if address is not None]
    for index in range(len(checked) - 1, -1, -1):
        if not _is_trusted(checked[index], networks):
            return checked[index], index == len(checked) - 1
    # Every hop is a proxy we trust: the leftmost is as far back as anyone can say.
    return checked[0], len(checked) == 1


def resolve_peer(environ: Mapping[str, Any], trusted: tuple[str, ...]) -> Peer:
    """The client of a WSGI request. ``trusted`` is ``ServerConfig.trusted_proxies``."""
    peer_text = str(environ.get("REMOTE_ADDR", ""))
    peer_port = _port(environ.get("REMOTE_PORT", ""))
    if not trusted:
        return Peer(peer_text, peer_port)
    networks = _networks(trusted)
    peer = _address(peer_text)
    if peer is None or not _is_trusted(peer, networks):
        return Peer(peer_text, peer_port)  # forwarded headers from anyone else mean nothing
    via = Peer(peer_text, peer_port).text()
    header = str(environ.get(FORWARDED_FOR, ""))
    if not header:
        return Peer(peer_text, peer_port)  # the proxy's own request (a health check)
    found = _forwarded_client(header, networks)
    if found is None:
        logger.warning(
            "trusted proxy %s sent an unusable X-Forwarded-For (%d characters); "
            "recording the proxy as the client",
            via,
            len(header),
        )
        return Peer(peer_text, peer_port)
    client, adjacent = found
    port = _port(environ.get(REAL_PORT, "")) if adjacent else None
    return Peer(str(client), port, via)
