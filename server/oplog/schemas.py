"""The operation log's REST bodies (``GET /api/v1/oplog``, server/oplog/api.py): the query and
the page of entries with the chain's head and latest signed checkpoint; docs/architecture.md,
"Bodies and validation"."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from xunjian.core.schema import Body

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_AFTER = 10**15


class OplogQuery(Body):
    limit: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT
    after: Annotated[int, Meta(ge=0, le=MAX_AFTER)] = 0


class OplogEntry(Body):
    """Every hashed field exactly as stored, so a script can recompute the hashes."""

    seq: int
    at: str
    actor: str
    role: str
    action: str
    target: str
    outcome: str
    reason: str
    client_address: str
    client_port: int | None
    details: str
    prev_hash: str
    hash: str


class ChainHead(Body):
    seq: int
    hash: str


class SignedCheckpoint(Body):
    seq: int
    hash: str
    at: str
    kind: str
    anchor_seq: int
    anchor_hash: str
    key_id: str
    signature: str


class OplogPage(Body):
    entries: list[OplogEntry]
    next_after: int
    head: ChainHead | None
    checkpoint: SignedCheckpoint | None
