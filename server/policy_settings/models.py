"""The notification settings tables. They share the ``Base`` of ``server/store/base.py`` so one
metadata describes the whole schema (migration 0010_policy_settings).

``notify_settings_state`` has one row (id 1) once anyone saved a channel or the roster in the
console. Its ``version`` goes up on every change, so each server process's alert worker can
tell with one cheap SELECT per tick whether its channels are still current. ``use_database``
says whether the database or config.json holds the channels and roster now (an administrator
can go back to config.json; the row stays, so versions never repeat).
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, Json

STATE_ROW_ID = 1


class NotifySettingsState(Base):
    __tablename__ = "notify_settings_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    use_database: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(64))


class NotifyChannelRow(Base):
    """A channel as ``notify_channels`` in config.json describes one. ``settings`` holds its
    secrets (robot keys, passwords): never shown, logged or put in the operation log."""

    __tablename__ = "notify_channel_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The name is the channel's identity in alert_notifications rows, so it never changes.
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    min_severity: Mapped[str] = mapped_column(String(16))
    settings: Mapped[dict[str, Any]] = mapped_column(Json)
    updated_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(64))


class OncallTierRow(Base):
    """One tier of the on-call roster (POLICY.md P1, I2), ``position`` 1 first."""

    __tablename__ = "oncall_tier_settings"

    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Channel names of notify_channel_settings.
    channels: Mapped[list[str]] = mapped_column(Json)
    # [{"name": "王老师", "contact": "+86 138 0013 8000"}]: people who answer 24 hours a day.
    people: Mapped[list[dict[str, str]]] = mapped_column(Json)
    # None on the last tier only.
    escalate_after_seconds: Mapped[int | None] = mapped_column(Integer)
