"""Fetching a page with strict limits: one overall deadline, a cap on the body, redirects
followed (or not) up to a cap, TLS verified against the system CA store plus an optional CA
file. The one fetch of the page monitors: the server's scheduler (``server/monitors``) and an
agent that runs a monitor for an internal-only site (``agent/monitors``) both call
:func:`fetch`, so a page is fetched the same way whoever fetches it. Standard library and
``cryptography`` only: an agent-only install imports it. Everything that goes wrong (refused
connection, timeout, untrusted or expired certificate, an endless redirect) is a ``Fetch``
that says so, never an exception.

Where a monitor may fetch from (server-side request forgery: a monitor's page is read back
through the API): :class:`AddressPolicy`. The host's name is resolved once per request, every
address it resolves to is checked, and the connection goes to the checked address (pinned, so
a second DNS answer cannot swap in another: rebinding); each redirect is checked the same way.
Global addresses are allowed; loopback, private, link-local and shared (CGNAT) ones only inside
the networks an administrator lists (``monitor_allowed_networks`` in the server's config.json,
and in agent.json for an agent's monitors); unspecified, multicast, broadcast and the cloud
metadata addresses never. An IPv4 address spelled other than as a dotted quad
(``2130706433``, ``0177.0.0.1``, ``0x7f.1``) is refused by :func:`check_url`.

An HTTPS site whose certificate does not verify is fetched a second time without verification,
so the page itself is still judged (a cert alert, not a down alert, for an expired
certificate); the certificate's expiry is read from the peer certificate either way.
"""

from __future__ import annotations

import datetime
import functools
import http.client
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from xunjian.core.contract import PAGE_MAX_BYTES, URL_LENGTH

MAX_BODY_BYTES = PAGE_MAX_BYTES  # the agent/server contract's (xunjian/core/contract/)
USER_AGENT = "xunjian-monitor/1"
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)


class UrlError(ValueError):
    """A monitor URL is not acceptable; the message says why."""


class AddressRefused(ValueError):
    """The page's address is one a monitor may not fetch; the message says why."""


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Cloud instance metadata (AWS, GCP, Azure, OpenStack; AWS's IPv6; AWS ECS; Alibaba Cloud):
# never fetched, whatever networks are allowed: they hand out credentials.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text)
    for text in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                          r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")  # fmt: skip


def parse_networks(texts: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``["10.0.0.0/8", "192.168.1.20"]`` as networks; ValueError names a bad one."""
    networks: list[IpNetwork] = []
    for text in texts:
        if not isinstance(text, str):
            raise ValueError(f"allowed network {text!r} is not text")
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError as error:
            raise ValueError(f"allowed network {text[:60]!r}: {error}") from None
    return tuple(networks)


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a monitor may fetch from (see the module's text). The default allows
    global addresses only."""

    allowed_networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def allowing(cls, texts: Iterable[str]) -> AddressPolicy:
        return cls(parse_networks(texts))

    def problem(self, address: str) -> str | None:
        """Why ``address`` (an IP address as text) may not be fetched, or None."""
        ip: IpAddress = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
        if ip in METADATA_ADDRESSES:
            return f"{ip} is a cloud metadata address"
        if ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
            return f"{ip} is not a host's address"
        if ip.is_global or any(ip in network for network in self.allowed_networks):
            return None
        kind = (
            "loopback"
            if ip.is_loopback
            else "link-local"
            if ip.is_link_local
            else "private or reserved"
        )
        return (
            f"{ip} is a {kind} address; monitors fetch such addresses only in the networks "
            "an administrator allows (monitor_allowed_networks)"
        )

    def resolve(self, host: str, port: int) -> str:
        """The address to connect to for ``host``: every address it resolves to must be
        allowed (one bad answer refuses all: a name is not half trusted)."""
        try:
            answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise OSError(f"cannot resolve {host}: {error.strerror}") from None
        addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
        for address in addresses:
            problem = self.problem(address)
            if problem is not None:
                named = "" if address == host.strip("[]") else f"{host} resolves to "
                raise AddressRefused(f"{named}{problem}")
        if not addresses:
            raise OSError(f"cannot resolve {host}")
        return addresses[0]


def _pinned(
    address: str,
    destination: tuple[str, int],
    timeout: float | None = None,
    source_address: tuple[str, int] | None = None,
) -> socket.socket:
    """``socket.create_connection`` to the checked address instead of the name again."""
    return socket.create_connection((address, destination[1]), timeout, source_address)


def check_url(url: str) -> str:
    """http(s) only, a host, no credentials, bounded length. Returns the URL stripped."""
    url = url.strip() if isinstance(url, str) else ""
    if not url or len(url) > URL_LENGTH:
        raise UrlError(f"url must be 1..{URL_LENGTH} characters")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise UrlError("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlError(f"url is not valid: {error}") from error
    if parts.scheme not in ("http", "https"):
        raise UrlError("url must start with http:// or https://")
    if not parts.hostname:
        raise UrlError("url has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlError("url must not carry credentials (user:password@)")
    if port == 0:
        raise UrlError("url port must be 1..65535")
    labels = parts.hostname.rstrip(".").split(".")
    if all(_NUMERIC_LABEL.fullmatch(label) for label in labels) and not _DOTTED_QUAD.fullmatch(
        parts.hostname
    ):
        # 2130706433, 0177.0.0.1, 0x7f.1: inet_aton's spellings hide an address from people.
        raise UrlError("url host: write an IPv4 address as a dotted quad (a.b.c.d)")
    return url


@dataclass
class CertInfo:
    not_after: datetime.datetime | None = None  # naive UTC
    verified: bool = True
    problem: str = ""  # why verification failed, in OpenSSL's words

    def days_left(self, now: datetime.datetime) -> float | None:
        if self.not_after is None:
            return None
        return (self.not_after - now).total_seconds() / 86400


@dataclass
class Fetch:
    url: str  # the final URL after redirects
    status: int | None = None
    body: bytes = b""
    truncated: bool = False
    ms: int = 0
    error: str = ""  # a connection-level failure; status is None then
    cert: CertInfo | None = None
    redirects: list[str] = field(default_factory=list)
    content_type: str = ""
    # As the server announced it (a HEAD's only size): for the site crawl's link checks. Not
    # part of a page check's outcome, so an agent's outcome (which does not carry it) still
    # equals what it fetched.
    content_length: int | None = field(default=None, compare=False)

    def text(self) -> str:
        return self.body.decode(self.charset(), errors="replace")

    def charset(self) -> str:
        for source in (self.content_type.encode("latin-1", "replace"), self.body[:2048]):
            match = _CHARSET.search(source)
            if match:
                name = match.group(1).decode("ascii").lower()
                try:
                    "".encode(name)
                except LookupError:
                    continue
                return "gb18030" if name in ("gb2312", "gbk") else name
        return "utf-8"


@lru_cache(maxsize=64)
def _context(ca_file: str, verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _peer_expiry(sock: ssl.SSLSocket) -> datetime.datetime | None:
    der = sock.getpeercert(binary_form=True)
    if not der:
        return None
    # Imported here: an agent without monitors never pays for the X.509 module's memory.
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(der).not_valid_after_utc.replace(tzinfo=None)
    except ValueError:
        return None


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        return remaining


def _one_request(
    url: str,
    deadline: _Deadline,
    ca_file: str,
    verify: bool,
    max_body: int,
    addresses: AddressPolicy,
    method: str = "GET",
) -> tuple[int, dict[str, str], bytes, bool, CertInfo | None]:
    check_url(url)  # a redirect's target too: schemes, odd IPv4 spellings
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = addresses.resolve(host, port)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    cert: CertInfo | None = None
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port or 443, timeout=deadline.left(), context=_context(ca_file, verify)
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port or 80, timeout=deadline.left())
    # Connect to the address just checked; the name still goes in Host, SNI and the
    # certificate's check.
    connection._create_connection = functools.partial(_pinned, address)  # type: ignore[attr-defined]
    try:
        connection.connect()
        if isinstance(connection.sock, ssl.SSLSocket):
            cert = CertInfo(not_after=_peer_expiry(connection.sock), verified=verify)
        connection.sock.settimeout(deadline.left())
        connection.request(
            method,
            path,
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml,*/*;q=0.5",
                "Accept-Encoding": "identity",
                "Connection": "close",
            },
        )
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        chunks: list[bytes] = []
        size = 0
        truncated = False
        while True:
            connection.sock.settimeout(deadline.left()) if connection.sock else None
            chunk = response.read1(65536) if hasattr(response, "read1") else response.read(65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size >= max_body:
                truncated = True
                break
        body = b"".join(chunks)[:max_body]
        return response.status, headers, body, truncated, cert
    finally:
        connection.close()


def fetch(
    url: str,
    timeout: float = 10,
    follow_redirects: bool = True,
    max_redirects: int = 5,
    ca_file: str = "",
    max_body: int = MAX_BODY_BYTES,
    addresses: AddressPolicy | None = None,
    method: str = "GET",
) -> Fetch:
    """GET ``url`` within ``timeout`` seconds in all (redirects included), from the addresses
    ``addresses`` allows (default: global ones only). ``method="HEAD"``: the site crawl's
    link checks (server/sites), which want the status without the body."""
    if method not in ("GET", "HEAD"):
        raise ValueError(f"method must be GET or HEAD, not {method!r}")
    policy = addresses or AddressPolicy()
    started = time.monotonic()
    deadline = _Deadline(timeout)
    result = Fetch(url=url)
    current = url
    verify = True
    tls_problem = ""
    try:
        while True:
            try:
                status, headers, body, truncated, cert = _one_request(
                    current, deadline, ca_file, verify, max_body, policy, method
                )
            except ssl.SSLCertVerificationError as error:
                if not verify:
                    raise
                # Judge the page anyway; the certificate's problem is its own result.
                tls_problem = error.verify_message or str(error)
                verify = False
                continue
            if cert is not None and not verify:
                cert.verified = False
                cert.problem = tls_problem
            result.cert = cert or result.cert
            result.status, result.body, result.truncated = status, body, truncated
            result.content_type = headers.get("content-type", "")
            length = headers.get("content-length", "")
            result.content_length = int(length) if length.isdigit() and len(length) < 19 else None
            result.url = current
            location = headers.get("location")
            if follow_redirects and status in (301, 302, 303, 307, 308) and location:
                if len(result.redirects) >= max_redirects:
                    result.error = f"more than {max_redirects} redirects"
                    result.status = None
                    break
                target = urljoin(current, location)
                if urlsplit(target).scheme not in ("http", "https"):
                    result.error = f"redirect to a non-HTTP address: {target[:200]}"
                    result.status = None
                    break
                result.redirects.append(target[:URL_LENGTH])
                current = target
                continue
            break
    except (AddressRefused, UrlError) as error:
        result.error = f"refused: {error}"[:300]
        result.status = None
    except TimeoutError:
        result.error = f"timed out after {timeout:g} s"
        result.status = None
    except ssl.SSLError as error:
        result.error = f"TLS failed: {error.reason or error}"[:300]
        result.status = None
    except (OSError, http.client.HTTPException, ValueError) as error:
        result.error = f"{type(error).__name__}: {error}"[:300]
        result.status = None
    result.ms = int((time.monotonic() - started) * 1000)
    return result
