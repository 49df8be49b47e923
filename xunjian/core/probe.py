"""Fetching a page with strict limits: one overall deadline, a cap on the body, redirects
followed (or not) up to a cap, TLS verified against the system CA store plus an optional CA
file. The one fetch of the page monitors: the server's scheduler (``server/monitors``) and an
agent that runs a monitor for an internal-only site (``agent/monitors``) both call
:func:`fetch`, so a page is fetched the same way whoever fetches it. Standard library and
``cryptography`` only: an agent-only install imports it. Everything that goes wrong (refused
connection, timeout, untrusted or expired certificate, an endless redirect) is a ``Fetch``
that says so, never an exception.

An HTTPS site whose certificate does not verify is fetched a second time without verification,
so the page itself is still judged (a cert alert, not a down alert, for an expired
certificate); the certificate's expiry is read from the peer certificate either way.
"""

from __future__ import annotations

import datetime
import http.client
import re
import ssl
import time
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from xunjian.core.contract import PAGE_MAX_BYTES, URL_LENGTH

MAX_BODY_BYTES = PAGE_MAX_BYTES  # the agent/server contract's (xunjian/core/contract/)
USER_AGENT = "xunjian-monitor/1"
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)


class UrlError(ValueError):
    """A monitor URL is not acceptable; the message says why."""


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
    url: str, deadline: _Deadline, ca_file: str, verify: bool, max_body: int
) -> tuple[int, dict[str, str], bytes, bool, CertInfo | None]:
    parts = urlsplit(url)
    host = parts.hostname or ""
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
    try:
        connection.connect()
        if isinstance(connection.sock, ssl.SSLSocket):
            cert = CertInfo(not_after=_peer_expiry(connection.sock), verified=verify)
        connection.sock.settimeout(deadline.left())
        connection.request(
            "GET",
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
) -> Fetch:
    """GET ``url`` within ``timeout`` seconds in all (redirects included)."""
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
                    current, deadline, ca_file, verify, max_body
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
