"""The ``file_events`` table: one row per event an agent's file watcher reported."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, BigId, Json

# Severity of the alert a finding raises: a web shell is an intrusion under way (E13).
FINDING_ALERTS = {
    "webshell": ("webshell", "critical"),
    "sensitive_word": ("sensitive_file", "high"),
}


class FileEvent(Base):
    __tablename__ = "file_events"
    __table_args__ = (
        Index("ix_file_events_agent_observed", "agent_id", "observed_at"),
        Index("ix_file_events_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    report_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(1024))
    from_path: Mapped[str | None] = mapped_column(String(1024))
    folder: Mapped[str] = mapped_column(String(1024))
    folder_kind: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None] = mapped_column(BigInteger)
    owner: Mapped[str | None] = mapped_column(String(64))
    mtime: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    observed_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    count: Mapped[int | None] = mapped_column(Integer)
    summarised_action: Mapped[str | None] = mapped_column(String(16))
    findings: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
