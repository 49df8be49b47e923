"""Enrollment: pin the server's CA by the hash the operator typed, then trade the token for an
identity whose key never leaves this machine.

1. ``GET /api/v1/agent/ca`` over TLS *without* verification (there is nothing to verify
   against yet); the certificate's DER hash must equal ``--ca-sha256`` or nothing happens.
2. ``POST /api/v1/agent/enroll`` over TLS verified against that CA only, host name checked.
3. Key, CA and ``agent.json`` are written to the state folder (``agent.json`` last).
"""

from __future__ import annotations

import hmac
import json
import platform
import re
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.state import AgentConfig, AgentState, utc_now_text
from agent.transport import (
    InvalidServerUrl,
    Refused,
    ServerUrl,
    Transport,
    TransportError,
    Unreachable,
    Untrusted,
    parse_server_url,
    pinned_context,
    unverified_context,
)
from xunjian import __version__
from xunjian.core.contract import PATH_CA, PATH_ENROLL
from xunjian.core.wire import certificate_sha256, public_key_to_text

# A CA certificate is a few KiB; a bundle or a web page is not what we asked for.
MAX_CA_BYTES = 64 * 1024
MAX_TOKEN_LENGTH = 200
_AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_GROUP = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


class EnrollmentError(Exception):
    """Enrollment did not happen; the message tells the operator why and what to do."""


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    platform: str
    os: str


def normalize_fingerprint(text: str) -> str:
    """``AB:CD:...`` or ``abcd...`` -> 64 lower-case hex digits, or :class:`EnrollmentError`."""
    cleaned = text.strip().replace(":", "").lower()
    if not re.fullmatch(r"[0-9a-f]{64}", cleaned):
        raise EnrollmentError(
            "--ca-sha256 must be the 64 hex digits of the CA certificate's SHA-256 "
            "(colons allowed), as printed by `xunjian server token create`"
        )
    return cleaned


def _check_token(token: str) -> str:
    token = token.strip()
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isprintable() or " " in token:
        raise EnrollmentError(
            f"--token must be the enrollment token: 1..{MAX_TOKEN_LENGTH} characters, no spaces"
        )
    return token


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text(errors="replace").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')[:255]
    except OSError:
        pass
    return platform.platform()[:255]


def local_host_facts() -> HostFacts:
    names = {"win32": "windows", "cygwin": "windows", "darwin": "macos"}
    system = names.get(sys.platform, re.sub(r"[^a-z0-9_-]", "", sys.platform.lower()) or "unknown")
    hostname = socket.gethostname()[:255] or "unknown"
    return HostFacts(hostname=hostname, platform=system[:32], os=_os_name())


def fetch_ca(server: ServerUrl, expected_sha256: str, timeout: float) -> bytes:
    """The server's CA certificate as PEM, only if its hash is the pinned one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        with Transport(
            server, unverified_context(), timeout=timeout, max_response_bytes=MAX_CA_BYTES
        ) as transport:
            answer = transport.request("GET", PATH_CA, signed=False)
    except Unreachable as exc:
        raise EnrollmentError(f"cannot reach the server at {server.text}: {exc}") from exc
    except Refused as exc:
        raise EnrollmentError(
            f"{server.text} did not hand out its CA (HTTP {exc.status}); is this a xunjian "
            f"server and the right URL?"
        ) from exc
    except TransportError as exc:
        raise EnrollmentError(f"fetching the CA from {server.text} failed: {exc}") from exc
    try:
        certificate = x509.load_pem_x509_certificate(answer.body)
    except ValueError as exc:
        raise EnrollmentError(
            f"{server.text}{PATH_CA} did not return a PEM certificate; is this a xunjian server?"
        ) from exc
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    actual = certificate_sha256(pem)
    if not hmac.compare_digest(actual, expected_sha256):
        raise EnrollmentError(
            "REFUSED: the server's CA certificate does not match --ca-sha256.\n"
            f"  expected {expected_sha256}\n"
            f"  received {actual}\n"
            "Either the fingerprint was mistyped, or something between this machine and the "
            "server is impersonating it. Nothing was written."
        )
    try:
        is_ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise EnrollmentError("the pinned certificate is not a CA certificate; nothing was written")
    return pem


def request_identity(
    server: ServerUrl,
    ca_pem: bytes,
    token: str,
    key: Ed25519PrivateKey,
    facts: HostFacts,
    timeout: float,
) -> tuple[str, str, str | None]:
    """``(agent_id, group, command_key)`` from ``POST /api/v1/agent/enroll`` over the pinned
    connection (a server from before command keys sends none)."""
    payload = {
        "token": token,
        "public_key": public_key_to_text(key.public_key()),
        "hostname": facts.hostname,
        "platform": facts.platform,
        "os": facts.os,
        "agent_version": __version__,
    }
    try:
        with Transport(server, pinned_context(ca_pem), timeout=timeout) as transport:
            body = json.dumps(payload).encode("utf-8")
            answer = transport.request("POST", PATH_ENROLL, body, expect=(201,), signed=False)
            value = answer.json()
    except Untrusted as exc:
        raise EnrollmentError(
            f"the server's TLS certificate does not verify against the pinned CA: {exc}. "
            f"Use the host name or address the server's certificate was made for."
        ) from exc
    except Refused as exc:
        if exc.status == 401:
            raise EnrollmentError(
                f"the server refused the enrollment token ({exc.error or 'HTTP 401'}): it is "
                "unknown, expired or used up. Ask for a new one (`xunjian server token create`)."
            ) from exc
        raise EnrollmentError(f"the server refused enrollment: {exc}") from exc
    except Unreachable as exc:
        raise EnrollmentError(f"cannot reach the server at {server.text}: {exc}") from exc
    except TransportError as exc:
        raise EnrollmentError(f"enrollment failed: {exc}") from exc
    if not isinstance(value, dict):
        raise EnrollmentError("the server's enrollment answer is not a JSON object")
    agent_id, group = value.get("agent_id"), value.get("group", "default")
    if not isinstance(agent_id, str) or not _AGENT_ID.fullmatch(agent_id):
        raise EnrollmentError(f"the server sent an unusable agent_id: {agent_id!r:.80}")
    if not isinstance(group, str) or not _GROUP.fullmatch(group):
        raise EnrollmentError(f"the server sent an unusable group: {group!r:.80}")
    command_key = value.get("command_key")
    if command_key is not None and not _command_key_ok(command_key):
        raise EnrollmentError(f"the server sent an unusable command_key: {command_key!r:.80}")
    return agent_id, group, command_key


def _command_key_ok(value: object) -> bool:
    from xunjian.core.wire import public_key_from_text

    if not isinstance(value, str) or len(value) != 44:
        return False
    try:
        public_key_from_text(value)
    except ValueError:
        return False
    return True


def enroll(
    state_dir: Path,
    server_url: str,
    token: str,
    ca_sha256: str,
    timeout: float = 30.0,
    facts: HostFacts | None = None,
) -> AgentConfig:
    """Enroll this machine; returns the stored configuration. Raises :class:`EnrollmentError`."""
    try:
        server = parse_server_url(server_url.strip())
    except InvalidServerUrl as exc:
        raise EnrollmentError(f"--server: {exc}") from exc
    expected = normalize_fingerprint(ca_sha256)
    token = _check_token(token)
    state = AgentState(state_dir)
    if state.has_identity_files():
        raise EnrollmentError(_already_enrolled_message(state))
    ca_pem = fetch_ca(server, expected, timeout)
    key = Ed25519PrivateKey.generate()
    agent_id, group, command_key = request_identity(
        server, ca_pem, token, key, facts or local_host_facts(), timeout
    )
    config = AgentConfig(
        server_url=server.text,
        agent_id=agent_id,
        group=group,
        ca_sha256=expected,
        enrolled_at=utc_now_text(),
        # Pinned now, from the server the CA pin vouches for: isolation commands must carry
        # this key's signature (agent/isolation/controller.py).
        server_command_key=command_key,
    )
    # Checked again: another enroll may have finished while we talked to the server.
    if state.has_identity_files():
        raise EnrollmentError(_already_enrolled_message(state))
    try:
        state.write_identity(config, key, ca_pem)
    except OSError as exc:
        raise EnrollmentError(
            f"enrolled as {agent_id}, but writing {state_dir} failed: {exc}. Fix the folder, "
            "remove it, and enroll again with a new token (the server will show this agent "
            "as never reporting)."
        ) from exc
    return config


def _already_enrolled_message(state: AgentState) -> str:
    who = ""
    try:
        config = state.load_config()
        who = f" as {config.agent_id} with {config.server_url}"
    except Exception:  # a damaged agent.json still blocks re-enrollment; the message says so
        who = " (its agent.json is missing or damaged)"
    return (
        f"this machine is already enrolled{who}; state folder {state.directory}.\n"
        "Refusing to overwrite the identity. To enroll again, stop the agent, remove (or move "
        f"away) {state.directory}, and run enroll again with a new token."
    )
