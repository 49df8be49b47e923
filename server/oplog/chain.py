"""The chain's canonical encoding. The same bytes are hashed when an entry is written and when
it is verified, so everything here is deterministic and independent of the database.

An entry's hash is SHA-256 over a JSON array (``entry_bytes``) of a version tag, its fields in
a fixed order, and the previous entry's hash. A JSON array of strings, integers and null has one
encoding with fixed separators, and no field can run into the next.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from server.oplog.models import (
    ACTION_LENGTH,
    ACTOR_LENGTH,
    ADDRESS_LENGTH,
    REASON_LENGTH,
    ROLE_LENGTH,
    TARGET_LENGTH,
    OplogEntry,
)

ENTRY_TAG = "xunjian-oplog-v1"
# The "previous hash" of the first entry ever written: a fixed, documented value.
GENESIS_HASH = hashlib.sha256(b"xunjian operation log genesis").hexdigest()
OUTCOMES = ("ok", "refused", "error")
MAX_DETAILS_BYTES = 4096


def clean_text(value: object, limit: int) -> str:
    """A string the database stores exactly as given: no NUL (PostgreSQL refuses it), no lone
    surrogate (not encodable as UTF-8), at most ``limit`` characters (the column's length)."""
    text = str(value).replace("\x00", "\ufffd")
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def canonical_details(details: Mapping[str, Any] | None) -> str:
    """Details as canonical JSON (sorted keys), at most MAX_DETAILS_BYTES; larger details are
    replaced by a note of their size instead of being cut mid-value."""
    encoded = json.dumps(
        dict(details or {}),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    encoded = clean_text(encoded, len(encoded))
    size = len(encoded.encode("utf-8"))
    if size > MAX_DETAILS_BYTES:
        return json.dumps({"truncated": True, "bytes": size}, sort_keys=True, separators=(",", ":"))
    return encoded


@dataclass(frozen=True)
class EntryFields:
    """What the caller says happened; ``seq``, ``at`` and the hashes are added when appending."""

    action: str
    actor: str = "anonymous"
    role: str = "none"
    target: str = ""
    outcome: str = "ok"
    reason: str = ""
    client_address: str = ""
    client_port: int | None = None
    details: str = "{}"

    @classmethod
    def make(
        cls,
        action: str,
        *,
        actor: str = "anonymous",
        role: str = "none",
        target: str = "",
        outcome: str = "ok",
        reason: str = "",
        client_address: str = "",
        client_port: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> EntryFields:
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
        port = client_port if client_port is not None and 0 <= client_port <= 65535 else None
        return cls(
            action=clean_text(action, ACTION_LENGTH),
            actor=clean_text(actor, ACTOR_LENGTH),
            role=clean_text(role, ROLE_LENGTH),
            target=clean_text(target, TARGET_LENGTH),
            outcome=outcome,
            reason=clean_text(reason, REASON_LENGTH),
            client_address=clean_text(client_address, ADDRESS_LENGTH),
            client_port=port,
            details=canonical_details(details),
        )

    def with_outcome(self, outcome: str, reason: str) -> EntryFields:
        return replace(self, outcome=outcome, reason=clean_text(reason, REASON_LENGTH))


def timestamp(at: datetime.datetime) -> str:
    """Naive UTC, microseconds always written: both databases store exactly this precision."""
    return at.isoformat(sep="T", timespec="microseconds")


def entry_bytes(seq: int, at: datetime.datetime, fields: EntryFields, prev_hash: str) -> bytes:
    document = [
        ENTRY_TAG,
        seq,
        timestamp(at),
        fields.actor,
        fields.role,
        fields.action,
        fields.target,
        fields.outcome,
        fields.reason,
        fields.client_address,
        fields.client_port,
        fields.details,
        prev_hash,
    ]
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def entry_hash(seq: int, at: datetime.datetime, fields: EntryFields, prev_hash: str) -> str:
    return hashlib.sha256(entry_bytes(seq, at, fields, prev_hash)).hexdigest()


def fields_of(row: OplogEntry) -> EntryFields:
    """The stored fields of a row, as they were hashed (no cleaning: a change must show)."""
    return EntryFields(
        action=row.action,
        actor=row.actor,
        role=row.role,
        target=row.target,
        outcome=row.outcome,
        reason=row.reason,
        client_address=row.client_address,
        client_port=row.client_port,
        details=row.details,
    )


def row_hash(row: OplogEntry) -> str:
    """The hash a stored row should carry, recomputed from its columns."""
    return entry_hash(row.seq, row.at, fields_of(row), row.prev_hash)
