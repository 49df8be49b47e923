"""The one place notifiers speak HTTP: a JSON POST with a deadline and a bounded reply.

Built on ``http.client`` rather than ``urllib.request`` on purpose:

* redirects are not followed (urllib would turn a POST into a GET on 301/302 and could carry
  a signed request elsewhere); a 3xx is a permanent failure that names the new location's host;
* no proxy is taken from the environment, so an alert goes exactly where the settings say;
* the whole exchange has one deadline, and at most ``MAX_REPLY_BYTES`` of the reply are read,
  so a slow or endless answer cannot hold the alert worker.

Failures are mapped once, here: connection errors, timeouts, HTTP 5xx, 408 and 429 are
``TemporaryFailure``; other 4xx, 3xx and a certificate that does not verify are
``PermanentFailure``.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from server.notify.errors import PermanentFailure, TemporaryFailure

MAX_REPLY_BYTES = 64 * 1024
USER_AGENT = "xunjian-notifier/1"


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The reply as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None


def encode_json(payload: object) -> bytes:
    # ensure_ascii=False keeps Chinese readable and the body smaller (robots cap the size);
    # compact separators because every byte counts against those caps.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verifying TLS context: the system's CAs, or only the given PEM bundle."""
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise PermanentFailure(f"cannot load ca_file {ca_file!r}: {error}") from None


def post_json(
    url: str,
    body: bytes,
    *,
    timeout: float,
    ca_file: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpReply:
    """POST ``body`` (already-encoded JSON) to ``url``; returns a 2xx reply or raises."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    where = f"{parts.scheme}://{parts.netloc}"
    deadline = time.monotonic() + timeout
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = http.client.HTTPSConnection(
            host, parts.port, timeout=timeout, context=tls_context(ca_file)
        )
    else:
        connection = http.client.HTTPConnection(host, parts.port, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    all_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        **(headers or {}),
    }
    try:
        connection.request("POST", target, body=body, headers=all_headers)
        _set_remaining(connection, deadline)
        response = connection.getresponse()
        reply_body = _read_bounded(connection, response, deadline)
        reply = HttpReply(
            status=response.status,
            headers={key.lower(): value for key, value in response.getheaders()},
            body=reply_body,
        )
    except ssl.SSLCertVerificationError as error:
        raise PermanentFailure(
            f"{where}: TLS certificate not trusted ({error.verify_message}); "
            "set ca_file for an internal CA"
        ) from None
    except TimeoutError:
        raise TemporaryFailure(f"{where}: no answer within {timeout:g} s") from None
    except (OSError, http.client.HTTPException) as error:
        # Refused, reset, DNS failure, a TLS handshake cut short, a garbled status line.
        raise TemporaryFailure(f"{where}: {type(error).__name__}: {error}") from None
    finally:
        connection.close()
    check_status(where, reply)
    return reply


def _set_remaining(connection: http.client.HTTPConnection, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    if connection.sock is not None:
        connection.sock.settimeout(remaining)


def _read_bounded(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, deadline: float
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < MAX_REPLY_BYTES:
        _set_remaining(connection, deadline)
        chunk = response.read1(min(16 * 1024, MAX_REPLY_BYTES - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def check_status(where: str, reply: HttpReply) -> None:
    status = reply.status
    if 200 <= status < 300:
        return
    excerpt = reply.body[:200].decode("utf-8", "replace")
    if status in (408, 429) or status >= 500:
        raise TemporaryFailure(
            f"{where}: HTTP {status} {excerpt}".rstrip(),
            retry_after=retry_after_seconds(reply.headers.get("retry-after")),
        )
    if 300 <= status < 400:
        location = urlsplit(reply.headers.get("location", ""))
        raise PermanentFailure(
            f"{where}: HTTP {status} redirect to {location.scheme}://{location.netloc} "
            "not followed; configure the final URL"
        )
    raise PermanentFailure(f"{where}: HTTP {status} {excerpt}".rstrip())


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
