"""The ``evidence_snapshots`` table: one row per evidence archive an agent uploads (the archive
itself is a file in the data folder's ``evidence/``, server/evidence/storage.py)."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, Json


class EvidenceSnapshot(Base):
    __tablename__ = "evidence_snapshots"
    __table_args__ = (Index("ix_evidence_snapshots_agent_started", "agent_id", "started_at"),)

    # The snapshot's id, chosen by the agent (a UUID in the archive's manifest).
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    command_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Bytes received so far, and the chunks that brought them (a resumed upload sends each
    # byte once: chunks stays the number a single upload needs).
    received: Mapped[int] = mapped_column(BigInteger)
    chunks: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    # Set once the whole archive arrived and verified; from then on it never changes.
    completed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    taken_at: Mapped[str | None] = mapped_column(String(32))
    hostname: Mapped[str | None] = mapped_column(String(500))
    key_id: Mapped[str | None] = mapped_column(String(64))
    manifest: Mapped[dict[str, Any] | None] = mapped_column(Json)
