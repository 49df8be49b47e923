"""The evidence REST bodies (``/api/v1/evidence``, server/evidence/api.py); docs/incidents.md,
"Evidence"."""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

from xunjian.core.contract import EVIDENCE_ARCHIVE_MAX_BYTES, UUID_PATTERN, whole
from xunjian.core.schema import Body

MAX_LIMIT = 500
_Id = Annotated[str, Meta(pattern=whole(UUID_PATTERN), max_length=36)]


class EvidenceQuery(Body):
    host: _Id | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] = 100


class EvidenceHost(Body):
    id: str
    hostname: str | None


class EvidenceItem(Body):
    """One snapshot. ``complete`` once the whole archive arrived and verified with the agent's
    key; ``sha256`` is the archive's (what a download must hash to), ``key_id`` the agent key's
    fingerprint (``xunjian evidence verify`` prints it)."""

    id: str
    host: EvidenceHost
    command_id: str | None
    reason: str
    size: Annotated[int, Meta(ge=0, le=EVIDENCE_ARCHIVE_MAX_BYTES)]
    received: int
    sha256: str
    complete: bool
    started_at: str
    completed_at: str | None
    taken_at: str | None
    key_id: str | None
    parts: list[dict[str, Any]]


class EvidenceList(Body):
    evidence: list[EvidenceItem]


class EvidenceManifest(Body):
    """The archive's manifest and signature as the archive holds them: check them offline with
    ``xunjian.core.evidence.verify_manifest`` (canonical JSON of each), then each part taken
    out of the archive against the manifest's hashes."""

    manifest: dict[str, Any]
    signature: dict[str, Any]
    agent_public_key: str
