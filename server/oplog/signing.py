"""The checkpoint key: Ed25519, in the data folder (never in the database), created on first use.

``DATA/oplog-signing.key`` (0600, PKCS#8 PEM) signs; ``DATA/oplog-signing.pub`` (PEM) is the
public half to hand to auditors, who verify checkpoints with it offline.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.config import write_private
from server.oplog.chain import timestamp

KEY_NAME = "oplog-signing.key"
PUBLIC_KEY_NAME = "oplog-signing.pub"
# Every signed checkpoint, one JSON line each, appended beside the data (0600). The database
# alone cannot remember what it lost: a log emptied or cut short with its checkpoints, the
# head set back, still links up. The anchor file, outside the database, still names them.
ANCHORS_NAME = "oplog-anchors.jsonl"
CHECKPOINT_TAG = "xunjian-oplog-checkpoint-v1"


class SigningKeyError(Exception):
    """The signing key or its public half cannot be read; the message says which file."""


def _publish(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a reader never sees a half-written key."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    write_private(temporary, data)
    try:
        # link() fails if the name exists, so of two processes creating the key at the same
        # moment exactly one wins and the other reads the winner's key.
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        temporary.unlink()


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def ensure_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    """The data folder's signing key, created (0600) with its public half if missing."""
    return ensure_ed25519_key(data_dir, KEY_NAME, PUBLIC_KEY_NAME, "operation log")


def ensure_ed25519_key(
    data_dir: Path, key_name: str, public_key_name: str, purpose: str
) -> Ed25519PrivateKey:
    """``DATA/key_name`` (0600, PKCS#8 PEM), created on first use by whichever process comes
    first, with its public half ``DATA/public_key_name`` (0644) beside it. Other signed records
    (the weekly reports) keep keys of their own this way."""
    key_path = data_dir / key_name
    if not key_path.exists():
        fresh = Ed25519PrivateKey.generate()
        _publish(
            key_path,
            fresh.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"cannot read the {purpose} key {key_path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{key_path} is not an Ed25519 private key")
    public_path = data_dir / public_key_name
    if not public_path.exists():
        _publish(public_path, _public_pem(key.public_key()))
        public_path.chmod(0o644)  # public by design: auditors get a copy
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"cannot read the public key {path}: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path} is not an Ed25519 public key")
    return key


def verification_key(
    data_dir: Path, public_key_file: Path | None = None
) -> Ed25519PublicKey | None:
    """The key checkpoints are verified with: a file the auditor names, else the data folder's
    exported public key, else the public half of its private key; None when there is none."""
    if public_key_file is not None:
        return load_public_key(public_key_file)
    if (data_dir / PUBLIC_KEY_NAME).exists():
        return load_public_key(data_dir / PUBLIC_KEY_NAME)
    if (data_dir / KEY_NAME).exists():
        return ensure_signing_key(data_dir).public_key()
    return None


def key_id(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key: names the key in each checkpoint."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class CheckpointClaim:
    """What a checkpoint signature covers."""

    seq: int
    hash: str
    at: datetime.datetime
    kind: str
    anchor_seq: int
    anchor_hash: str
    key_id: str

    def message(self) -> bytes:
        document = [
            CHECKPOINT_TAG,
            self.seq,
            self.hash,
            timestamp(self.at),
            self.kind,
            self.anchor_seq,
            self.anchor_hash,
            self.key_id,
        ]
        return json.dumps(document, separators=(",", ":")).encode("utf-8")


def sign_claim(key: Ed25519PrivateKey, claim: CheckpointClaim) -> str:
    return key.sign(claim.message()).hex()


def claim_is_signed(key: Ed25519PublicKey, claim: CheckpointClaim, signature: str) -> bool:
    try:
        key.verify(bytes.fromhex(signature), claim.message())
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SignedClaim:
    claim: CheckpointClaim
    signature: str

    def line(self) -> bytes:
        claim = self.claim
        document = {
            "seq": claim.seq,
            "hash": claim.hash,
            "at": timestamp(claim.at),
            "kind": claim.kind,
            "anchor_seq": claim.anchor_seq,
            "anchor_hash": claim.anchor_hash,
            "key_id": claim.key_id,
            "signature": self.signature,
        }
        return json.dumps(document, separators=(",", ":")).encode("utf-8") + b"\n"


def append_anchors(data_dir: Path, signed: list[SignedClaim]) -> None:
    """Append checkpoints to the anchor file (created 0600), synced before returning. One
    write() per call with O_APPEND: lines of several processes never interleave."""
    if not signed:
        return
    descriptor = os.open(data_dir / ANCHORS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, b"".join(item.line() for item in signed))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_anchors(path: Path) -> list[tuple[int, CheckpointClaim, str]]:
    """``(line number, claim, signature)`` of each line; ValueError names a line that is not
    one (a torn last line from a crash mid-write is skipped: it was never confirmed)."""
    found: list[tuple[int, CheckpointClaim, str]] = []
    lines = path.read_bytes().split(b"\n")
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
            claim = CheckpointClaim(
                seq=int(value["seq"]),
                hash=str(value["hash"]),
                at=datetime.datetime.fromisoformat(str(value["at"])),  # naive UTC
                kind=str(value["kind"]),
                anchor_seq=int(value["anchor_seq"]),
                anchor_hash=str(value["anchor_hash"]),
                key_id=str(value["key_id"]),
            )
            found.append((number, claim, str(value["signature"])))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):  # no newline after it: torn by a crash
                continue
            raise ValueError(f"line {number} is not a checkpoint ({exc})") from None
    return found
