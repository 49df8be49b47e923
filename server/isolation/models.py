"""``host_isolation``: per host, what the people asked for (isolate or release, with the reason,
who and when, the generation the command carried) and what the agent last reported (its state,
generation, rules, error, a break-glass release)."""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base

WANTED_STATES = ("isolated", "released")


class HostIsolation(Base):
    __tablename__ = "host_isolation"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    wanted: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    command_id: Mapped[str | None] = mapped_column(String(36))
    reported_state: Mapped[str | None] = mapped_column(String(20))
    reported_generation: Mapped[int | None] = mapped_column(Integer)
    reported_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    changed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    backend: Mapped[str] = mapped_column(String(32), default="")
    rules: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    released_by: Mapped[str] = mapped_column(String(64), default="")
    release_reason: Mapped[str] = mapped_column(Text, default="")
