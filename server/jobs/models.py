"""The lease table (migration 0008_reports): one row per job name.

A process runs a job only while it holds the row's lease: ``holder`` is set and ``lease_until``
in the future. The row also remembers the last run, from which a job's due time is computed.
"""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base

NAME_LENGTH = 64
HOLDER_LENGTH = 100


class JobLease(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(HOLDER_LENGTH))
    lease_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # When the row was made: a job that never ran is due one period after this, so a new
    # server does not purge or report on its first second.
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    last_started_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_success_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
