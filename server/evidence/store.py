"""Queries on evidence snapshots, shared by the API, the console pages and the command line."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.evidence import storage
from server.evidence.models import EvidenceSnapshot
from server.store.models import Agent
from xunjian.core.evidence import MANIFEST_NAME, SIGNATURE_NAME, read_member

# Who may read evidence (POLICY.md A2): every console role, each read logged. Taking a
# snapshot is a command, for the roles that may queue commands.
READ_ROLES = ("admin", "operator", "auditor")


class EvidenceMissing(Exception):
    """No such snapshot, not complete yet, or its file is gone or changed."""


def _time(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds") + "Z"


def snapshot_json(row: EvidenceSnapshot, hostname: str | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "host": {"id": row.agent_id, "hostname": hostname},
        "command_id": row.command_id,
        "reason": row.reason,
        "size": row.size,
        "received": row.received,
        "sha256": row.sha256,
        "complete": row.completed_at is not None,
        "started_at": _time(row.started_at),
        "completed_at": _time(row.completed_at),
        "taken_at": row.taken_at,
        "key_id": row.key_id,
        "parts": list((row.manifest or {}).get("parts", [])),
    }


def list_snapshots(
    session: Session, host: str | None = None, limit: int = 100
) -> list[tuple[EvidenceSnapshot, str | None]]:
    statement = (
        select(EvidenceSnapshot, Agent.hostname)
        .join(Agent, Agent.id == EvidenceSnapshot.agent_id)
        .order_by(EvidenceSnapshot.started_at.desc(), EvidenceSnapshot.id)
        .limit(limit)
    )
    if host is not None:
        statement = statement.where(EvidenceSnapshot.agent_id == host)
    return [(row, hostname) for row, hostname in session.execute(statement).all()]


def get_snapshot(session: Session, snapshot_id: str) -> tuple[EvidenceSnapshot, str | None]:
    if len(snapshot_id) > 36:
        raise EvidenceMissing("no such evidence")
    found = session.execute(
        select(EvidenceSnapshot, Agent.hostname)
        .join(Agent, Agent.id == EvidenceSnapshot.agent_id)
        .where(EvidenceSnapshot.id == snapshot_id)
    ).first()
    if found is None:
        raise EvidenceMissing("no such evidence")
    return found[0], found[1]


def archive_file(data: Path, row: EvidenceSnapshot) -> Path:
    """The sealed archive of a complete snapshot."""
    if row.completed_at is None:
        raise EvidenceMissing(f"evidence {row.id} is still arriving ({row.received}/{row.size})")
    path = storage.archive_path(data, row.agent_id, row.id)
    if not path.is_file():
        raise EvidenceMissing(f"the archive of evidence {row.id} is missing from {path.parent}")
    return path


def manifest_document(data: Path, row: EvidenceSnapshot, public_key: str) -> dict[str, Any]:
    path = archive_file(data, row)
    return {
        "manifest": json.loads(read_member(path, MANIFEST_NAME)),
        "signature": json.loads(read_member(path, SIGNATURE_NAME)),
        "agent_public_key": public_key,
    }


def agent_public_key(session: Session, agent_id: str) -> str:
    return session.scalar(select(Agent.public_key).where(Agent.id == agent_id)) or ""
