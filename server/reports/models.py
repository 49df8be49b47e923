"""Kept weekly reports (migration 0008_reports). The files live in ``DATA/reports/``; a row
here indexes them: which week, when and by whom generated, and each file's size and SHA-256.

``scheduled_week`` is the week for the report the weekly job made, NULL for the others
(generated from the console or on an API request). It is UNIQUE and both databases allow many
NULLs, so whatever happens to the job's lease, at most one scheduled report exists per week.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, Json

WEEK_LENGTH = 8
TRIGGERS = ("schedule", "console", "api")


class WeeklyReport(Base):
    __tablename__ = "weekly_reports"
    __table_args__ = (Index("ix_weekly_reports_week", "week", "generated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[str] = mapped_column(String(WEEK_LENGTH))
    scheduled_week: Mapped[str | None] = mapped_column(String(WEEK_LENGTH), unique=True)
    period_start: Mapped[datetime.datetime] = mapped_column(DateTime)
    period_end: Mapped[datetime.datetime] = mapped_column(DateTime)
    complete: Mapped[bool] = mapped_column(Boolean)
    trigger: Mapped[str] = mapped_column(String(16))
    generated_by: Mapped[str] = mapped_column(String(100))
    generated_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    hosts: Mapped[int] = mapped_column(Integer)
    hosts_reporting: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    # The report's "summary" member (counts and compliance) for the console's list.
    summary: Mapped[dict[str, Any]] = mapped_column(Json)
    key_id: Mapped[str] = mapped_column(String(64))
    report_sha256: Mapped[str] = mapped_column(String(64))
    # {"csv": {"name": "...csv.gz", "bytes": n, "sha256": "..."}, "xlsx": ..., "json": ...}:
    # bytes and sha256 of the file as downloaded (stored gzip-compressed when name ends .gz).
    files: Mapped[dict[str, Any]] = mapped_column(Json)
