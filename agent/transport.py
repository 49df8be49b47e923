"""HTTPS to the server with the standard library only (the agent's idle memory is the budget).

Errors form one small hierarchy, so callers decide by kind, not by parsing messages::

    TransportError            anything that kept a request from getting an accepted answer
    ├── Unreachable           no answer: refused connection, DNS, timeout, TLS handshake
    ├── Untrusted             the server's certificate is not from the pinned CA (or wrong host)
    ├── Refused               the server answered with an unexpected status (``.status``)
    └── ProtocolError         an answer that is too large, not JSON, or not the agreed shape

Every request after enrollment is signed with :func:`xunjian.core.wire.sign_request` over the
method, the path as sent (base path, path and query) and the exact body bytes.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from xunjian import __version__
from xunjian.core.signing import Signer
from xunjian.core.wire import sign_request

USER_AGENT = f"xunjian-agent/{__version__}"
# Policies and heartbeat answers are small; anything bigger is a broken or hostile server.
DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 30.0
# What of a refusal's body is kept for logs and `agent status`.
_MAX_ERROR_TEXT = 300


# How a connection the server already closed shows when it is used again. The TLS ones come
# from a server that closed without close_notify (cheroot does, on idle keep-alive
# connections); they subclass ssl.SSLError, so they are caught before it.
CLOSED_BY_PEER = (
    http.client.RemoteDisconnected,
    BrokenPipeError,
    ConnectionResetError,
    ssl.SSLEOFError,
    ssl.SSLZeroReturnError,
)


class TransportError(Exception):
    """A request did not get an answer the agent can use."""


class Unreachable(TransportError):
    """No answer: the server is down, the network is out, or the connection timed out."""


class Untrusted(TransportError):
    """The server's certificate does not verify against the pinned CA or its host name."""


class Refused(TransportError):
    """The server answered with a status the caller did not expect."""

    def __init__(self, status: int, error: str, path: str) -> None:
        self.status = status
        self.error = error
        self.path = path
        super().__init__(f"{path}: HTTP {status}" + (f": {error}" if error else ""))

    @property
    def retryable(self) -> bool:
        """Worth trying again later with the same request (server trouble, not a bad request).

        Every 4xx is a refusal of the request itself (the same bytes will be refused again),
        except those that time heals: 401 and 403 (a drifted clock, a server restored from
        backup), 408 and 425 (timing), 409 (a conflict that passes) and 429 (rate limit).
        """
        return not 400 <= self.status < 500 or self.status in RETRYABLE_CLIENT_ERRORS


RETRYABLE_CLIENT_ERRORS = frozenset({401, 403, 408, 409, 425, 429})


class ProtocolError(TransportError):
    """The server's answer is not what the contract says."""


class InvalidServerUrl(ValueError):
    """A server URL the agent will not use."""


@dataclass(frozen=True)
class ServerUrl:
    host: str
    port: int
    base_path: str  # "" or "/prefix" without a trailing slash

    @property
    def text(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{self.base_path}"


def parse_server_url(text: str) -> ServerUrl:
    """Check a server URL: https only, a host, an optional port and path prefix, nothing else.

    Plain http is refused: the CA pin is what protects the agent, and it needs TLS.
    """
    if not isinstance(text, str) or not text or len(text) > 2000:
        raise InvalidServerUrl("the server URL is empty or too long")
    if any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise InvalidServerUrl("the server URL contains spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidServerUrl(f"not a valid URL: {text!r} ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme == "http":
        raise InvalidServerUrl(
            f"{text!r} is plain http; the agent only talks https (it pins the server's CA)"
        )
    if scheme != "https":
        raise InvalidServerUrl(f"{text!r} is not an https:// URL")
    if not parts.hostname:
        raise InvalidServerUrl(f"{text!r} names no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidServerUrl("the server URL must not carry a user name or password")
    if parts.query or parts.fragment:
        raise InvalidServerUrl("the server URL must not have a query or fragment")
    base_path = parts.path.rstrip("/")
    if base_path and not base_path.startswith("/"):
        raise InvalidServerUrl(f"odd path in {text!r}")
    return ServerUrl(parts.hostname, port or 443, base_path)


def pinned_context(ca_pem: bytes) -> ssl.SSLContext:
    """Trust exactly the pinned CA (no system roots) and check the host name."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=ca_pem.decode("ascii"))
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def unverified_context() -> ssl.SSLContext:
    """Only for fetching the CA at enrollment, whose hash the operator pins by hand."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProtocolError(f"the server's answer is not JSON: {exc}") from exc


@dataclass(frozen=True)
class Identity:
    agent_id: str
    key: Signer  # xunjian/core/signing.py: the system's libcrypto, or cryptography's key


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to a fixed address while checking the certificate against the URL's host name:
    an isolated host keeps its link without DNS (agent/isolation)."""

    def __init__(self, host: str, port: int, address: str, **kwargs: Any) -> None:
        super().__init__(host, port, **kwargs)
        self._address = address
        # http.client keeps the connect function on the instance, made in __init__.
        self._create_connection = self._connect_pinned

    def _connect_pinned(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        return socket.create_connection((self._address, address[1]), *args, **kwargs)


class Transport:
    """One keep-alive HTTPS connection to the server, shared under a lock by the runner's jobs."""

    def __init__(
        self,
        server: ServerUrl,
        context: ssl.SSLContext,
        identity: Identity | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        self.server = server
        self.identity = identity
        self._context = context
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._connection: http.client.HTTPSConnection | None = None
        self._lock = threading.Lock()
        self._pinned_address: str | None = None

    def pin_address(self, address: str | None) -> None:
        """Connect to ``address`` instead of resolving the server's host name (None: resolve
        again). An isolated host has no DNS; the certificate is still checked by name."""
        with self._lock:
            if address != self._pinned_address:
                self._pinned_address = address
                self._drop_connection()

    def close(self) -> None:
        with self._lock:
            self._drop_connection()

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drop_connection(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # -- the public calls -----------------------------------------------------------------
    def get_json(self, path: str) -> Any:
        return self.request("GET", path).json()

    def post_json(self, path: str, payload: Any, expect: tuple[int, ...] = (200,)) -> Any:
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return self.request("POST", path, body, expect=expect).json()

    def request(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        expect: tuple[int, ...] = (200,),
        signed: bool = True,
        content_type: str = "application/json",
    ) -> Response:
        """Send one request; return the answer if its status is in ``expect``. ``content_type``:
        of the body (JSON but for an evidence archive's raw chunks)."""
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        full_path = self.server.base_path + path
        headers = {
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if body or method in ("POST", "PUT", "PATCH"):
            headers["Content-Type"] = content_type
        with self._lock:
            response = self._exchange(method, full_path, body, headers, signed)
        if response.status not in expect:
            raise Refused(response.status, _error_text(response), full_path)
        return response

    # -- the exchange ---------------------------------------------------------------------
    def _exchange(
        self, method: str, full_path: str, body: bytes, headers: dict[str, str], signed: bool
    ) -> Response:
        # A kept-alive connection may have been closed by the server while idle; that shows
        # only when it is used again. One fresh try is safe: reports are deduplicated by
        # (agent_id, epoch, seq) and the other calls are idempotent.
        reused = self._connection is not None
        try:
            return self._exchange_once(method, full_path, body, headers, signed)
        except CLOSED_BY_PEER:
            self._drop_connection()
            if not reused:
                raise Unreachable(f"{self.server.text}: connection closed by the server") from None
        try:
            return self._exchange_once(method, full_path, body, headers, signed)
        except CLOSED_BY_PEER as exc:
            self._drop_connection()
            raise Unreachable(f"{self.server.text}: connection closed by the server") from exc

    def _exchange_once(
        self, method: str, full_path: str, body: bytes, headers: dict[str, str], signed: bool
    ) -> Response:
        if signed:
            if self.identity is None:
                raise ValueError("a signed request needs an agent identity")
            # Signed per attempt: the send time must be fresh on a retry too.
            headers = {
                **headers,
                **sign_request(
                    self.identity.key, method, full_path, self.identity.agent_id, body
                ).as_dict(),
            }
        if self._connection is None:
            if self._pinned_address is not None and self._pinned_address != self.server.host:
                self._connection = _PinnedHTTPSConnection(
                    self.server.host,
                    self.server.port,
                    self._pinned_address,
                    timeout=self._timeout,
                    context=self._context,
                )
            else:
                self._connection = http.client.HTTPSConnection(
                    self.server.host, self.server.port, timeout=self._timeout, context=self._context
                )
        connection = self._connection
        try:
            connection.request(method, full_path, body=body, headers=headers)
            answer = connection.getresponse()
            data = self._read_bounded(answer)
        except CLOSED_BY_PEER:
            raise
        except ssl.SSLCertVerificationError as exc:
            self._drop_connection()
            raise Untrusted(
                f"{self.server.text}: the server's certificate is not trusted "
                f"({exc.verify_message or exc}); it must come from the CA pinned at enrollment"
            ) from exc
        except ssl.SSLError as exc:
            self._drop_connection()
            raise Unreachable(f"{self.server.text}: TLS failed: {exc}") from exc
        except TimeoutError as exc:
            self._drop_connection()
            raise Unreachable(f"{self.server.text}: timed out after {self._timeout}s") from exc
        except http.client.HTTPException as exc:
            self._drop_connection()
            raise ProtocolError(f"{self.server.text}: malformed HTTP answer: {exc!r}") from exc
        except ProtocolError:
            self._drop_connection()
            raise
        except OSError as exc:
            self._drop_connection()
            raise Unreachable(f"{self.server.text}: {exc.strerror or exc}") from exc
        if answer.will_close:
            self._drop_connection()
        content_type = answer.getheader("Content-Type", "") or ""
        return Response(answer.status, data, content_type[:200])

    def _read_bounded(self, answer: http.client.HTTPResponse) -> bytes:
        limit = self._max_response_bytes
        declared = answer.getheader("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ProtocolError(f"the server's answer is {declared} bytes; the limit is {limit}")
        data = answer.read(limit + 1)
        if len(data) > limit:
            raise ProtocolError(f"the server's answer is larger than {limit} bytes")
        return data


def _error_text(response: Response) -> str:
    """The server's ``{"error": ...}`` text if it sent one, else a short excerpt."""
    try:
        value = json.loads(response.body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        value = None
    if isinstance(value, dict) and isinstance(value.get("error"), str):
        text = value["error"]
    else:
        text = response.body[:_MAX_ERROR_TEXT].decode("utf-8", errors="replace")
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text[:_MAX_ERROR_TEXT].strip()
