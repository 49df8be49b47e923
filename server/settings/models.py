"""The run-time settings table. It shares the ``Base`` of ``server/store/base.py`` so one
metadata describes the whole schema (migration 0007_settings).

One row per setting an administrator changed in the console; a setting without a row takes its
value from config.json. Rows are read on every use (no per-process cache), so every server
process sees a change at its next request.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, Json

NAME_LENGTH = 64


class RuntimeSetting(Base):
    __tablename__ = "runtime_settings"

    name: Mapped[str] = mapped_column(String(NAME_LENGTH), primary_key=True)
    value: Mapped[Any] = mapped_column(Json)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(64))
