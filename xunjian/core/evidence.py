"""The evidence archive (POLICY.md I1, "preserve the scene"): how an agent writes it, and how
anyone verifies it offline (``xunjian evidence verify``), the server on upload included.

Standard library and ``cryptography`` only: the agent writes it, the server checks it, and an
investigator's plain ``pip install xunjian`` verifies it.

An archive is a POSIX (ustar) tar file of regular files, in this order::

    manifest.json    what was taken: the snapshot's id, agent, host, time, reason, and every
                     part's name, size and SHA-256 (canonical JSON, see ``canonical``)
    <part>.json ...  one file per part of the scene (processes.json, connections.json, ...)
    signature.json   {"algorithm": "Ed25519", "key_id", "public_key", "manifest_sha256",
                      "archive_sha256", "value"} (canonical JSON)

* ``archive_sha256`` is the SHA-256 of every byte before ``signature.json``'s header: the
  manifest and the parts with their tar headers and padding.
* ``value`` is the Ed25519 signature, by the agent's own key (the one it enrolled with), of
  the ASCII bytes ``xunjian-evidence-v1\\n<manifest_sha256>\\n<archive_sha256>``.
* Everything after that point (``signature.json``'s header, its text, padding and the two
  zero blocks that end a tar file) must be exactly what ``_tail`` makes of the signature.

So every byte of the file is covered: an edited byte before the signature changes
``archive_sha256``; one after it makes the tail differ from its canonical form. The manifest's
per-part hashes let a part taken out of the archive be checked on its own, with the manifest
and signature beside it (``verify_manifest``). ``key_id`` is the SHA-256 of the raw public
key; the server shows each agent's, and ``--public-key`` pins it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from xunjian.core.contract import (
    EVIDENCE_ARCHIVE_MAX_BYTES,
    EVIDENCE_MAX_PARTS,
    EVIDENCE_PART_MAX_BYTES,
    EVIDENCE_PART_PATTERN,
    EVIDENCE_REASON_MAX,
    UUID_PATTERN,
)

FORMAT = "xunjian-evidence-v1"
SIGNATURE_TAG = "xunjian-evidence-v1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature.json"
ALGORITHM = "Ed25519"
SIGNATURE_FIELDS = frozenset(
    {"algorithm", "key_id", "public_key", "manifest_sha256", "archive_sha256", "value"}
)
MANIFEST_FIELDS = frozenset(
    {"format", "snapshot_id", "agent_id", "hostname", "taken_at", "reason", "command_id", "parts"}
)
PART_FIELDS = frozenset({"name", "size", "sha256"})
# A manifest and a signature are small; a larger one is not ours.
MAX_MANIFEST_BYTES = 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
BLOCK = tarfile.BLOCKSIZE
# Fixed header fields, so that the same parts always make the same bytes.
_FILE_MODE = 0o644
_PART_NAME = re.compile(EVIDENCE_PART_PATTERN)
_UUID = re.compile(UUID_PATTERN)
_HEX64 = re.compile(r"[0-9a-f]{64}")


class EvidenceInvalid(Exception):
    """The file is not an intact evidence archive; the message names the first problem."""


def canonical(value: Any) -> bytes:
    """Keys sorted, no whitespace, UTF-8: the one encoding of a manifest and a signature."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def signed_message(manifest_sha256: str, archive_sha256: str) -> bytes:
    return f"{SIGNATURE_TAG}\n{manifest_sha256}\n{archive_sha256}".encode("ascii")


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key: the ``key_id`` of an agent's signatures."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes


@dataclass(frozen=True)
class Verified:
    """What an intact archive says of itself."""

    manifest: dict[str, Any]
    key_id: str
    pinned: bool  # checked against a key the caller supplied, not only the file's own
    archive_sha256: str
    size: int

    @property
    def snapshot_id(self) -> str:
        return str(self.manifest["snapshot_id"])

    @property
    def parts(self) -> list[dict[str, Any]]:
        return list(self.manifest["parts"])


def _header(name: str, size: int, mtime: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = mtime
    info.mode = _FILE_MODE
    info.type = tarfile.REGTYPE
    return info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


def _member(name: str, data: bytes, mtime: int) -> bytes:
    return _header(name, len(data), mtime) + data + _padding(len(data))


def _tail(signature: bytes, mtime: int) -> bytes:
    """The bytes from ``signature.json``'s header to the end of the file."""
    return _member(SIGNATURE_NAME, signature, mtime) + b"\0" * (2 * BLOCK)


def check_part_names(names: Sequence[str]) -> None:
    if len(names) > EVIDENCE_MAX_PARTS:
        raise ValueError(f"at most {EVIDENCE_MAX_PARTS} parts, not {len(names)}")
    if len(set(names)) != len(names):
        raise ValueError("part names repeat")
    for name in names:
        if not _PART_NAME.fullmatch(name) or name in (MANIFEST_NAME, SIGNATURE_NAME):
            raise ValueError(f"part name {name[:60]!r} is not allowed")


def build_archive(
    manifest_fields: dict[str, Any], parts: Sequence[Part], key: Ed25519PrivateKey, mtime: int
) -> tuple[bytes, dict[str, Any]]:
    """The archive's bytes and its manifest. ``manifest_fields``: every manifest field but
    ``format`` and ``parts``; ``mtime``: the time every member carries (the snapshot's)."""
    check_part_names([part.name for part in parts])
    for part in parts:
        if len(part.data) > EVIDENCE_PART_MAX_BYTES:
            raise ValueError(f"part {part.name} is over {EVIDENCE_PART_MAX_BYTES} bytes")
    manifest = {
        **manifest_fields,
        "format": FORMAT,
        "parts": [
            {"name": p.name, "size": len(p.data), "sha256": hashlib.sha256(p.data).hexdigest()}
            for p in parts
        ],
    }
    _check_manifest(manifest)
    manifest_bytes = canonical(manifest)
    body = io.BytesIO()
    body.write(_member(MANIFEST_NAME, manifest_bytes, mtime))
    for part in parts:
        body.write(_member(part.name, part.data, mtime))
    prefix = body.getvalue()
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    archive_sha256 = hashlib.sha256(prefix).hexdigest()
    public = key.public_key()
    signature = {
        "algorithm": ALGORITHM,
        "key_id": fingerprint(public),
        "public_key": base64.b64encode(raw_public_key(public)).decode("ascii"),
        "manifest_sha256": manifest_sha256,
        "archive_sha256": archive_sha256,
        "value": key.sign(signed_message(manifest_sha256, archive_sha256)).hex(),
    }
    archive = prefix + _tail(canonical(signature), mtime)
    if len(archive) > EVIDENCE_ARCHIVE_MAX_BYTES:
        raise ValueError(f"the archive is over {EVIDENCE_ARCHIVE_MAX_BYTES} bytes")
    return archive, manifest


# -- verification ---------------------------------------------------------------------------------
def load_public_key(path: Path) -> Ed25519PublicKey:
    """A PEM public key file, or the base64 raw key the server shows for an agent."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvidenceInvalid(f"cannot read the public key {path}: {exc}") from exc
    try:
        if b"BEGIN" in data:
            key = serialization.load_pem_public_key(data)
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True))
    except (ValueError, binascii.Error) as exc:
        raise EvidenceInvalid(f"{path} is not an Ed25519 public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise EvidenceInvalid(f"{path} is not an Ed25519 public key")
    return key


def _check_manifest(manifest: Any) -> dict[str, Any]:
    if not isinstance(manifest, dict) or set(manifest) != MANIFEST_FIELDS:
        raise EvidenceInvalid(
            f"the manifest must have exactly the fields {', '.join(sorted(MANIFEST_FIELDS))}"
        )
    if manifest["format"] != FORMAT:
        raise EvidenceInvalid(f"the manifest's format is not {FORMAT!r}")
    for name in ("snapshot_id", "agent_id"):
        if not isinstance(manifest[name], str) or not _UUID.fullmatch(manifest[name]):
            raise EvidenceInvalid(f"the manifest's {name} is not an id")
    command = manifest["command_id"]
    if command is not None and (not isinstance(command, str) or not _UUID.fullmatch(command)):
        raise EvidenceInvalid("the manifest's command_id is not an id")
    for name in ("hostname", "taken_at", "reason"):
        if not isinstance(manifest[name], str) or len(manifest[name]) > EVIDENCE_REASON_MAX:
            raise EvidenceInvalid(f"the manifest's {name} is not a short text")
    parts = manifest["parts"]
    if not isinstance(parts, list) or not all(
        isinstance(p, dict) and set(p) == PART_FIELDS for p in parts
    ):
        raise EvidenceInvalid("the manifest's parts must each have exactly name, size, sha256")
    try:
        check_part_names([p["name"] if isinstance(p["name"], str) else "" for p in parts])
    except ValueError as exc:
        raise EvidenceInvalid(f"the manifest's parts: {exc}") from exc
    for part in parts:
        size, digest = part["size"], part["sha256"]
        if isinstance(size, bool) or not isinstance(size, int) or not size >= 0:
            raise EvidenceInvalid(f"part {part['name']}: size is not a count")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise EvidenceInvalid(f"part {part['name']}: sha256 is not a SHA-256")
    return manifest


def _json_object(data: bytes, what: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvidenceInvalid(f"{what} is not JSON: {exc}") from exc


def _signature(data: bytes) -> dict[str, str]:
    signature = _json_object(data, SIGNATURE_NAME)
    if (
        not isinstance(signature, dict)
        or set(signature) != SIGNATURE_FIELDS
        or not all(isinstance(value, str) for value in signature.values())
    ):
        raise EvidenceInvalid(
            f"the signature must have exactly {', '.join(sorted(SIGNATURE_FIELDS))}"
        )
    if signature["algorithm"] != ALGORITHM:
        raise EvidenceInvalid(f"unknown signature algorithm {signature['algorithm'][:40]!r}")
    return signature


def _verify_signature(
    signature: dict[str, str],
    manifest_sha256: str,
    archive_sha256: str | None,
    public_key: Ed25519PublicKey | None,
) -> str:
    """Check the signature block; returns the key id."""
    try:
        embedded = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(signature["public_key"], validate=True)
        )
    except (binascii.Error, ValueError) as exc:
        raise EvidenceInvalid("the signature's public_key is not a raw Ed25519 key") from exc
    # Only the canonical text: base64's last character before "=" carries unused bits, so
    # another text can decode to the same key, and a changed archive must not verify.
    if base64.b64encode(raw_public_key(embedded)).decode("ascii") != signature["public_key"]:
        raise EvidenceInvalid("the signature's public_key is not in canonical base64")
    if fingerprint(embedded) != signature["key_id"]:
        raise EvidenceInvalid("the signature's key_id does not match its public_key")
    if public_key is not None and fingerprint(public_key) != signature["key_id"]:
        raise EvidenceInvalid(
            f"signed by a different key: the archive names key {signature['key_id'][:16]}..., "
            f"the given public key is {fingerprint(public_key)[:16]}..."
        )
    if manifest_sha256 != signature["manifest_sha256"]:
        raise EvidenceInvalid("the manifest was changed: its SHA-256 is not the one signed")
    if archive_sha256 is not None and archive_sha256 != signature["archive_sha256"]:
        raise EvidenceInvalid("the archive was changed: its SHA-256 is not the one signed")
    try:
        (public_key or embedded).verify(
            bytes.fromhex(signature["value"]),
            signed_message(signature["manifest_sha256"], signature["archive_sha256"]),
        )
    except (InvalidSignature, ValueError) as exc:
        raise EvidenceInvalid("the signature does not verify with the archive's key") from exc
    return signature["key_id"]


def _hash_range(handle: IO[bytes], start: int, length: int) -> str:
    digest = hashlib.sha256()
    handle.seek(start)
    left = length
    while left > 0:
        block = handle.read(min(left, 1024 * 1024))
        if not block:
            raise EvidenceInvalid("the archive ends early")
        digest.update(block)
        left -= len(block)
    return digest.hexdigest()


def verify_stream(
    handle: IO[bytes], size: int, public_key: Ed25519PublicKey | None = None
) -> Verified:
    """Verify an archive read from a seekable binary file of ``size`` bytes."""
    if size > EVIDENCE_ARCHIVE_MAX_BYTES + 4 * BLOCK:
        raise EvidenceInvalid(f"{size} bytes: larger than any evidence archive")
    if size < 4 * BLOCK:
        raise EvidenceInvalid("too short to be an evidence archive")
    try:
        with tarfile.open(fileobj=handle, mode="r:") as tar:
            members = []
            for member in tar:
                members.append(member)
                if len(members) > EVIDENCE_MAX_PARTS + 2:
                    raise EvidenceInvalid("more members than an evidence archive holds")
    except (tarfile.TarError, EOFError) as exc:
        raise EvidenceInvalid(f"not a readable tar archive: {exc}") from exc
    if len(members) < 2 or members[0].name != MANIFEST_NAME:
        raise EvidenceInvalid(f"the archive does not start with {MANIFEST_NAME}")
    if members[-1].name != SIGNATURE_NAME:
        raise EvidenceInvalid(f"the archive does not end with {SIGNATURE_NAME}")
    if not all(member.isreg() for member in members):
        raise EvidenceInvalid("the archive holds something other than regular files")
    last = members[-1]
    if last.size > MAX_SIGNATURE_BYTES or members[0].size > MAX_MANIFEST_BYTES:
        raise EvidenceInvalid("the manifest or the signature is too large")
    handle.seek(last.offset_data)
    signature_bytes = handle.read(last.size)
    handle.seek(last.offset)
    tail = handle.read(size - last.offset + 1)
    if tail != _tail(signature_bytes, last.mtime):
        raise EvidenceInvalid(
            "the bytes after the signature's start were changed (the tail is not canonical)"
        )
    signature = _signature(signature_bytes)
    if canonical(signature) != signature_bytes:
        raise EvidenceInvalid("the signature block was changed (not in canonical form)")
    handle.seek(members[0].offset_data)
    manifest_bytes = handle.read(members[0].size)
    archive_sha256 = _hash_range(handle, 0, last.offset)
    key_id = _verify_signature(
        signature, hashlib.sha256(manifest_bytes).hexdigest(), archive_sha256, public_key
    )
    # Signed and intact; now hold the content to what the manifest says it is.
    manifest = _check_manifest(_json_object(manifest_bytes, MANIFEST_NAME))
    listed = manifest["parts"]
    held = members[1:-1]
    if [p["name"] for p in listed] != [m.name for m in held]:
        raise EvidenceInvalid("the archive's parts are not the ones its manifest lists")
    for entry, member in zip(listed, held, strict=True):
        if member.size != entry["size"]:
            raise EvidenceInvalid(f"part {member.name}: its size is not the manifest's")
        if _hash_range(handle, member.offset_data, member.size) != entry["sha256"]:
            raise EvidenceInvalid(f"part {member.name}: its SHA-256 is not the manifest's")
    return Verified(manifest, key_id, public_key is not None, archive_sha256, size)


def verify_bytes(data: bytes, public_key: Ed25519PublicKey | None = None) -> Verified:
    return verify_stream(io.BytesIO(data), len(data), public_key)


def verify_file(path: Path, public_key: Ed25519PublicKey | None = None) -> Verified:
    try:
        with path.open("rb") as handle:
            return verify_stream(handle, path.stat().st_size, public_key)
    except OSError as exc:
        raise EvidenceInvalid(f"cannot read {path}: {exc}") from exc


def verify_manifest(
    manifest_bytes: bytes, signature_bytes: bytes, public_key: Ed25519PublicKey | None = None
) -> dict[str, Any]:
    """A manifest with its signature, apart from the archive (as the server hands them out):
    the parts' hashes in it can then be checked against parts taken out of the archive."""
    signature = _signature(signature_bytes)
    _verify_signature(signature, hashlib.sha256(manifest_bytes).hexdigest(), None, public_key)
    return _check_manifest(_json_object(manifest_bytes, MANIFEST_NAME))


def read_member(path: Path, name: str) -> bytes:
    """One member's bytes (the manifest or the signature, for the server to hand out)."""
    with tarfile.open(path, mode="r:") as tar:
        extracted = tar.extractfile(name)
        if extracted is None:
            raise EvidenceInvalid(f"{name} is not a file in {path}")
        return extracted.read(max(MAX_MANIFEST_BYTES, MAX_SIGNATURE_BYTES) + 1)
