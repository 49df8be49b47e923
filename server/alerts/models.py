"""The alert tables. They share the ``Base`` of ``server/store/base.py`` so one metadata
describes the whole schema (migration 0004; migrations are compared against it in tests).

Deduplication by subject: ``open_key`` holds ``kind:agent:check:resource`` while the alert is
open or acknowledged and is set to NULL when it is resolved. It is UNIQUE, and both databases
let any number of rows hold NULL, so at most one unresolved alert exists per subject whatever
number of server processes try to open one at the same moment (they INSERT ... ON CONFLICT
(open_key) DO NOTHING).
"""

from __future__ import annotations

import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, BigId

# Every kind of alert, by source. Page monitors (issue 4): down, tamper, cert, slow; the file
# watcher: webshell, sensitive_file, watch_failed; device checks (issue 5): default_credential;
# site health (issue 18, server/sites): broken_links.
KINDS = (
    "check_failed",
    "agent_silent",
    "spool_overflow",
    "down",
    "tamper",
    "cert",
    "slow",
    "webshell",
    "sensitive_file",
    "default_credential",
    "watch_failed",
    "broken_links",
)
STATUSES = ("open", "acknowledged", "resolved")
OPEN_KEY_LENGTH = 400
COMMENT_LENGTH = 2000


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_resolved_at", "resolved_at"),
        Index("ix_alerts_agent_id", "agent_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    # What the alert is about. agent_id is NULL for subjects that are not hosts (monitors).
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    check_id: Mapped[str] = mapped_column(String(128), default="")
    resource: Mapped[str] = mapped_column(String(200), default="")
    message: Mapped[str] = mapped_column(Text, default="")
    open_key: Mapped[str | None] = mapped_column(String(OPEN_KEY_LENGTH), unique=True)
    opened_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    acknowledged_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # NULL with resolved_at set: resolved by the server (the check passed, the agent came back).
    resolved_by: Mapped[str | None] = mapped_column(String(64))


class AlertComment(Base):
    __tablename__ = "alert_comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime.datetime] = mapped_column(DateTime)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)


class AlertNotification(Base):
    """One alert to be sent through one channel. The delivery worker claims a row with a
    conditional UPDATE (claimed_by / claimed_until) before sending, so two server processes
    never send it twice; the unique (alert, channel, event) keeps a second process from
    queueing it twice."""

    __tablename__ = "alert_notifications"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel", "event", name="uq_alert_notifications"),
        Index("ix_alert_notifications_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))  # "opened"
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # Where it went (no secret in it) or why it did not.
    target: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)


def open_key(kind: str, agent_id: str | None, check_id: str = "", resource: str = "") -> str:
    """The subject of an alert as one string: equal subjects, equal keys."""
    return f"{kind}:{agent_id or ''}:{check_id}:{resource}"[:OPEN_KEY_LENGTH]


def status_of(alert: Alert) -> str:
    if alert.resolved_at is not None:
        return "resolved"
    if alert.acknowledged_at is not None:
        return "acknowledged"
    return "open"
