"""Evidence archives arriving from agents (``POST /api/v1/agent/evidence`` to start or resume,
``PUT /api/v1/agent/evidence/<id>?offset=N`` per chunk; the routes are in server/agent_api.py).

Each chunk is written at its offset and made durable before the row moves on, with a
conditional update (``received = offset``), so two server processes, or a replayed request,
never advance one upload twice; a chunk at any other offset is refused with the offset the
server stands at, from which the agent goes on. When the last byte lands, the whole file must
have the SHA-256 the agent declared and verify (xunjian/core/evidence.py) with the key this
agent enrolled with; only then is it sealed (write-once, server/evidence/storage.py) and its
manifest kept on the row. Every refusal is an exception carrying its status, raised before
anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.evidence import storage
from server.evidence.models import EvidenceSnapshot
from server.incidents.store import record_event
from server.store.models import utcnow
from xunjian.core import wire
from xunjian.core.contract import EVIDENCE_CHUNK_MAX_BYTES, EVIDENCE_MAX_OPEN_UPLOADS
from xunjian.core.contract.bodies import EvidenceStart
from xunjian.core.evidence import EvidenceInvalid, verify_file


class EvidenceRefused(Exception):
    """The request changes nothing; ``status`` and the reason go back to the agent."""

    def __init__(self, status: int, reason: str, received: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.received = received


@dataclass(frozen=True)
class Progress:
    id: str
    received: int
    complete: bool
    chunk_bytes: int
    # Set when this request completed the upload (for the operation log entry).
    completed_now: bool = False


def _progress(row: EvidenceSnapshot, chunk_bytes: int, completed_now: bool = False) -> Progress:
    return Progress(row.id, row.received, row.completed_at is not None, chunk_bytes, completed_now)


def start(session: Session, agent_id: str, body: EvidenceStart, max_body_bytes: int) -> Progress:
    """Open an upload, or say how far an open (or finished) one got."""
    chunk_bytes = min(EVIDENCE_CHUNK_MAX_BYTES, max_body_bytes)
    row = session.get(EvidenceSnapshot, body.id)
    if row is not None:
        if row.agent_id != agent_id:
            raise EvidenceRefused(409, f"snapshot {body.id} belongs to another agent")
        if row.size != body.size or row.sha256 != body.sha256:
            raise EvidenceRefused(409, f"snapshot {body.id} was started with another size or hash")
        return _progress(row, chunk_bytes)
    open_uploads = session.scalar(
        select(func.count())
        .select_from(EvidenceSnapshot)
        .where(EvidenceSnapshot.agent_id == agent_id, EvidenceSnapshot.completed_at.is_(None))
    )
    if (open_uploads or 0) >= EVIDENCE_MAX_OPEN_UPLOADS:
        raise EvidenceRefused(
            429, f"{open_uploads} evidence uploads of this agent are open; finish them first"
        )
    row = EvidenceSnapshot(
        id=body.id,
        agent_id=agent_id,
        command_id=body.command_id,
        reason=body.reason,
        size=body.size,
        sha256=body.sha256,
        received=0,
        chunks=0,
        started_at=utcnow(),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # Another server process opened the same upload a moment ago: answer as it stands.
        session.rollback()
        return start(session, agent_id, body, max_body_bytes)
    return _progress(row, chunk_bytes)


def receive_chunk(
    session: Session,
    data_dir: Path,
    agent_id: str,
    public_key: str,
    snapshot_id: str,
    offset: int,
    chunk: bytes,
    max_body_bytes: int,
) -> Progress:
    """Write one chunk; verify and seal the archive when it is the last."""
    chunk_bytes = min(EVIDENCE_CHUNK_MAX_BYTES, max_body_bytes)
    row = session.get(EvidenceSnapshot, snapshot_id)
    if row is None or row.agent_id != agent_id:
        raise EvidenceRefused(404, f"no upload {snapshot_id} of this agent; start it first")
    if row.completed_at is not None:
        raise EvidenceRefused(409, "this archive is complete and stored write-once", row.size)
    if not chunk:
        raise EvidenceRefused(400, "body: a chunk holds at least one byte")
    if offset != row.received:
        raise EvidenceRefused(409, f"offset: expected {row.received}, not {offset}", row.received)
    if offset + len(chunk) > row.size:
        raise EvidenceRefused(
            400, f"body: the chunk ends at {offset + len(chunk)}, past the {row.size} declared"
        )
    part = storage.part_path(data_dir, agent_id, snapshot_id)
    storage.write_at(part, offset, chunk)
    moved = session.execute(
        update(EvidenceSnapshot)
        .where(EvidenceSnapshot.id == snapshot_id, EvidenceSnapshot.received == offset)
        .values(received=offset + len(chunk), chunks=EvidenceSnapshot.chunks + 1)
    ).rowcount
    session.commit()
    if moved != 1:  # another request took this offset first
        session.refresh(row)
        raise EvidenceRefused(409, f"offset: expected {row.received}, not {offset}", row.received)
    session.refresh(row)
    if row.received < row.size:
        return _progress(row, chunk_bytes)
    return _complete(session, data_dir, row, public_key, chunk_bytes)


def _complete(
    session: Session, data_dir: Path, row: EvidenceSnapshot, public_key: str, chunk_bytes: int
) -> Progress:
    part = storage.part_path(data_dir, row.agent_id, row.id)
    problem = ""
    verified = None
    if storage.sha256_file(part) != row.sha256:
        problem = "the archive's SHA-256 is not the one declared"
    else:
        try:
            verified = verify_file(part, wire.public_key_from_text(public_key))
        except EvidenceInvalid as exc:
            problem = f"the archive does not verify with this agent's key: {exc}"
        else:
            if verified.snapshot_id != row.id or verified.manifest["agent_id"] != row.agent_id:
                problem = "the archive's manifest names another snapshot or agent"
    if problem or verified is None:
        # Never kept half-trusted: the row and the bytes go, the agent keeps its copy aside.
        storage.discard(part)
        session.delete(row)
        session.commit()
        raise EvidenceRefused(422, problem)
    storage.seal(part, storage.archive_path(data_dir, row.agent_id, row.id))
    manifest = verified.manifest
    row.completed_at = utcnow()
    row.taken_at = str(manifest["taken_at"])[:32]
    row.hostname = str(manifest["hostname"])[:500]
    row.key_id = verified.key_id
    row.manifest = manifest
    # On the timeline of the host's open incidents (none: nothing), in the same transaction, so
    # the incident report lists the archive's hash exactly when the archive is kept.
    record_event(
        session,
        kind="evidence",
        text=f"现场证据已保存：evidence-{row.id}.tar（SHA-256 {row.sha256}）",
        actor=f"agent:{row.agent_id}",
        host_id=row.agent_id,
        details={"sha256": row.sha256, "name": f"evidence-{row.id}.tar"},
    )
    session.commit()
    return _progress(row, chunk_bytes, completed_now=True)


def record_stored(agent_id: str, snapshot_id: str) -> None:
    """The operation log's entry for an archive stored (in the agent's request)."""
    from server.oplog.hook import record

    record(
        "evidence.stored",
        target=f"evidence:{snapshot_id}",
        actor=f"agent:{agent_id}",
        role="agent",
        details={"host": agent_id},
    )
