"""The signed request protocol between agent and server.

Both sides import this module, so the canonical form that is signed lives in exactly one place.
It depends only on the standard library and ``cryptography`` (the agent stays light).

Every agent request after enrollment carries three headers:

* ``X-Xunjian-Agent``: the agent id the server assigned at enrollment;
* ``X-Xunjian-Time``: the send time, whole seconds since the Unix epoch (freshness only: a
  report's own ``created_at`` inside the body may be days old, when it waited in the spool);
* ``X-Xunjian-Signature``: base64 of the Ed25519 signature over :func:`canonical_request`.

The signature covers the method, the path with its query, the agent id, the send time and the
SHA-256 of the body, so no part of a request can be changed or moved to another endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

# cryptography is imported where it is used: the idle agent signs through
# xunjian/core/signing.py and keeps cryptography's 7.6 MB out of its memory (issue 15).
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from xunjian.core.signing import Signer

HEADER_AGENT = "X-Xunjian-Agent"
HEADER_TIME = "X-Xunjian-Time"
HEADER_SIGNATURE = "X-Xunjian-Signature"

PROTOCOL = "xunjian-v1"
# How far a send time may be from the server's clock. Generous because school PCs drift.
FRESHNESS_WINDOW_SECONDS = 300
# The agent API's paths are in xunjian/core/contract/ (the bodies they carry in bodies.py).


class SignatureError(Exception):
    """A request's signature headers are missing, malformed, stale or do not verify."""


@dataclass(frozen=True)
class SignedHeaders:
    agent_id: str
    sent_at: int
    signature: str

    def as_dict(self) -> dict[str, str]:
        return {
            HEADER_AGENT: self.agent_id,
            HEADER_TIME: str(self.sent_at),
            HEADER_SIGNATURE: self.signature,
        }


def canonical_request(method: str, path: str, agent_id: str, sent_at: int, body: bytes) -> bytes:
    """The exact bytes that are signed; ``path`` includes the query string, if any."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join([PROTOCOL, method.upper(), path, agent_id, str(sent_at), digest]).encode()


def sign_request(
    key: Signer,
    method: str,
    path: str,
    agent_id: str,
    body: bytes,
    sent_at: int | None = None,
) -> SignedHeaders:
    when = int(time.time()) if sent_at is None else sent_at
    signature = key.sign(canonical_request(method, path, agent_id, when, body))
    return SignedHeaders(agent_id, when, base64.b64encode(signature).decode("ascii"))


def parse_sent_at(raw: str | None) -> int:
    if raw is None or not raw.isdigit() or len(raw) > 12:
        raise SignatureError(f"missing or malformed {HEADER_TIME} header")
    return int(raw)


def check_freshness(sent_at: int, now: float | None = None) -> None:
    current = time.time() if now is None else now
    if abs(current - sent_at) > FRESHNESS_WINDOW_SECONDS:
        raise SignatureError(
            f"send time {sent_at} is outside the {FRESHNESS_WINDOW_SECONDS}s window "
            f"(server time {int(current)})"
        )


def verify_request(
    public_key: Ed25519PublicKey,
    method: str,
    path: str,
    agent_id: str,
    sent_at: int,
    signature_b64: str | None,
    body: bytes,
) -> None:
    """Raise :class:`SignatureError` unless the signature is valid (freshness is checked apart)."""
    if not signature_b64 or len(signature_b64) > 200:
        raise SignatureError(f"missing or malformed {HEADER_SIGNATURE} header")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError as exc:
        raise SignatureError("signature is not valid base64") from exc
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(signature, canonical_request(method, path, agent_id, sent_at, body))
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


COMMAND_PROTOCOL = "xunjian-command-v1"


def canonical_command(agent_id: str, command_id: str, command_type: str, generation: int) -> bytes:
    """The bytes the server signs for a command that changes the host (isolation): bound to
    one agent, one command and the host's generation, which only grows, so a command replayed
    later, or meant for another agent, does not verify or is older than what the agent keeps."""
    return "\n".join(
        [COMMAND_PROTOCOL, agent_id, command_id, command_type, str(generation)]
    ).encode()


def sign_command(
    key: Signer, agent_id: str, command_id: str, command_type: str, generation: int
) -> str:
    signature = key.sign(canonical_command(agent_id, command_id, command_type, generation))
    return base64.b64encode(signature).decode("ascii")


def verify_command(
    public_key: Ed25519PublicKey,
    agent_id: str,
    command_id: str,
    command_type: str,
    generation: int,
    signature_b64: str | None,
) -> None:
    """Raise :class:`SignatureError` unless the command key signed exactly this command."""
    if not signature_b64 or len(signature_b64) > 200:
        raise SignatureError("the command carries no signature")
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except ValueError as exc:
        raise SignatureError("the command's signature is not valid base64") from exc
    from cryptography.exceptions import InvalidSignature

    try:
        public_key.verify(
            signature, canonical_command(agent_id, command_id, command_type, generation)
        )
    except InvalidSignature as exc:
        raise SignatureError("the command's signature does not verify") from exc


def public_key_to_text(key: Ed25519PublicKey) -> str:
    """Raw 32-byte public key as base64: the form sent at enrollment and stored by the server."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_key_from_text(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ValueError("public key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(raw)


def certificate_sha256(pem: bytes) -> str:
    """SHA-256 (hex, lower case) of a PEM certificate's DER form: what ``--ca-sha256`` pins."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(pem)
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
