"""The incident tables (migration 0021_incidents), on the ``Base`` of ``server/store/base.py``.

An incident is a person's record that something happened on a host and is being handled
(POLICY.md I1, I2): the alerts it started from, a timeline of what was done (opened, notes,
escalations, acknowledgement, isolation and evidence from their features, closed), and the
notifications that carried it up the on-call roster.

* ``incidents``               one row per incident; its state is derived from the times
* ``incident_alerts``         which alerts it ties together; an alert belongs to one incident
* ``incident_events``         the timeline, append only (notes are events of kind ``note``)
* ``incident_notifications``  one row per (incident, channel): queued, claimed, sent, as
                              ``alert_notifications`` (server/alerts/delivery.py)
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, BigId, Json

STATUSES = ("open", "acknowledged", "closed")
TITLE_LENGTH = 200
TEXT_LENGTH = 2000
ACTOR_LENGTH = 64
KIND_LENGTH = 32
HOSTNAME_LENGTH = 255


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_agent_id", "agent_id"),
        Index("ix_incidents_closed_at", "closed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(TITLE_LENGTH))
    severity: Mapped[str] = mapped_column(String(16))
    # The host. SET NULL, not CASCADE: an incident record outlives the host's enrollment
    # (a reported incident is a record an auditor may ask for), so the name is kept apart.
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    hostname: Mapped[str] = mapped_column(String(HOSTNAME_LENGTH), default="")
    opened_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    opened_by: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    acknowledged_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH))
    closed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(ACTOR_LENGTH))


class IncidentAlert(Base):
    __tablename__ = "incident_alerts"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    # UNIQUE: two people opening an incident from the same alert at once make one.
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True, unique=True
    )


class IncidentEvent(Base):
    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(KIND_LENGTH))
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    text: Mapped[str] = mapped_column(Text)
    # Facts a machine reads back: {"sha256": ...} of evidence, {"tier": 2, "channel": ...}.
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class IncidentNotification(Base):
    """One incident to be sent through one channel; claimed before sending like
    ``AlertNotification`` so several server processes never send it twice."""

    __tablename__ = "incident_notifications"
    __table_args__ = (
        UniqueConstraint("incident_id", "channel", name="uq_incident_notifications"),
        Index("ix_incident_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    tier: Mapped[int | None] = mapped_column(Integer)
    # pending | sent | failed | stopped (acknowledged or closed before it was sent)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    target: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)


def status_of(incident: Incident) -> str:
    if incident.closed_at is not None:
        return "closed"
    if incident.acknowledged_at is not None:
        return "acknowledged"
    return "open"
