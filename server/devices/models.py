"""The device inventory. Each device also owns a row in ``agents`` (platform ``device``, a
public key whose private half was never kept, so it can never sign as an agent): its check
results, latest results, alerts, host page and weekly report then work exactly like an
agent's. Migration 0011."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, Json

# DEVICE_PLATFORM lives in the store (its host queries need it); named here for the package.
from server.store.models import DEVICE_PLATFORM as DEVICE_PLATFORM

DEVICE_TYPES = ("router", "ap", "nas", "switch", "linux")
# What the last check found (docs/devices.md).
OUTCOMES = (
    "default_credential",  # a vendor-default credential was accepted: critical alert
    "no_default",  # every listed credential was refused
    "no_password_auth",  # the device offers no password login: nothing was tried
    "lockout",  # the device showed a sign of lockout or banning: stopped early
    "unreachable",  # no SSH answer at all
    "error",
)


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (Index("ix_devices_due", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), unique=True)
    address: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(255))
    # The account the organisation's own key logs in as (Linux collectors over SSH).
    key_user: Mapped[str] = mapped_column(String(64))
    # Who authorised checking this device, in their words, and who entered it.
    authorised_by: Mapped[str] = mapped_column(String(64))
    authorisation: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    # Scheduling: due for a check at due_at; a process claims it with a conditional UPDATE.
    due_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # The last check.
    last_checked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_outcome: Mapped[str | None] = mapped_column(String(32))
    last_message: Mapped[str] = mapped_column(Text, default="")
    last_attempts: Mapped[int] = mapped_column(Integer, default=0)
    auth_methods: Mapped[list[str] | None] = mapped_column(Json)
    host_key: Mapped[str | None] = mapped_column(String(200))
    org_key_accepted: Mapped[bool | None] = mapped_column(Boolean)
    # The credential found: the user name in clear, the password encrypted (Fernet, key
    # derived from DATA/secret-key); only the admin API and console decrypt it.
    credential_user: Mapped[str | None] = mapped_column(String(64))
    credential_secret: Mapped[str | None] = mapped_column(Text)
    credential_found_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)

    def summary(self) -> dict[str, Any]:
        """The device for lists and the API; never the password."""
        return {
            "id": self.id,
            "host_id": self.agent_id,
            "address": self.address,
            "port": self.port,
            "type": self.type,
            "label": self.label,
            "key_user": self.key_user,
            "authorised_by": self.authorised_by,
            "authorisation": self.authorisation,
            "added_by": self.added_by,
            "added_at": _iso(self.added_at),
            "due_at": _iso(self.due_at),
            "last_checked_at": _iso(self.last_checked_at),
            "last_outcome": self.last_outcome,
            "last_message": self.last_message,
            "last_attempts": self.last_attempts,
            "auth_methods": self.auth_methods,
            "org_key_accepted": self.org_key_accepted,
            "default_credential_user": self.credential_user,
        }


def _iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"
