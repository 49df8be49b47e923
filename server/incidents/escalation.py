"""Reporting up the chain (POLICY.md I2, 逐级汇报): an incident nobody acknowledged goes to the
roster's next tier after that tier's delay, through the channels in force.

It uses what alerts use, not a copy: the channels and roster in force come from
``server.policy_settings.alerting.AlertingSource`` (config.json's, or the console's once an
administrator edited them), each channel carries its tier and the delay after which it is told
(``Channel.delay_seconds``: the sum of the tiers' ``escalate_after_seconds`` before it), the
messages go through the channel's own notifier (server/notify), and the rows are queued,
claimed, sent and retried by the claimed outbox the alerts use (``server.alerts.outbox``).

Each tick, in every server process:

1. ``queue_incident_notifications``: per channel, one INSERT ... SELECT queues a row for each
   incident that is neither acknowledged nor closed, at or above the channel's
   ``min_severity``, opened at least the channel's delay ago, with none for that channel yet.
   UNIQUE (incident, channel) and ON CONFLICT DO NOTHING: racing processes queue once.
2. ``IncidentDeliverer.deliver_due``: claims each due row with a conditional UPDATE, sends it,
   records the outcome naming itself, and adds an ``escalated`` event to the timeline (the
   report's "what was done": who was told, when). A row whose incident was acknowledged or
   closed after it was queued is not sent (``stopped``): acknowledgement stops the chain.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, exists, literal, select
from sqlalchemy.orm import Session

from server.alerts.channels import Channel
from server.alerts.outbox import ChannelWorker, ClaimedOutbox, channel_hears, queue_rows
from server.config import ServerConfig
from server.incidents.models import Incident, IncidentEvent, IncidentNotification
from server.incidents.store import ESCALATED
from server.notify import AlertMessage, IncidentKind, LocalText
from server.store.models import utcnow

logger = logging.getLogger("xunjian.server.incidents")

# The roster's tiers as the rule book names them (POLICY.md I2); a roster with more tiers
# than these calls the rest by number.
TIER_TITLES = (
    ("网络管理员", "network administrator"),
    ("信息中心负责人", "head of the information centre"),
    ("分管领导", "leader in charge"),
    ("上级主管部门", "higher authority"),
)


def tier_title(tier: int | None, language: str = "zh") -> str:
    """The name of roster tier ``tier`` (from 1) in ``language``; channels on no tier are
    told at once, like tier 1."""
    if tier is None:
        return "未分级" if language == "zh" else "no tier"
    if 1 <= tier <= len(TIER_TITLES):
        zh, en = TIER_TITLES[tier - 1]
        return zh if language == "zh" else en
    return f"第{tier}级" if language == "zh" else f"tier {tier}"


def _due_for(channel: Channel, now: datetime.datetime) -> Any:
    """The rows to queue for ``channel``: incidents it should hear of by ``now`` and has not."""
    already = exists().where(
        IncidentNotification.incident_id == Incident.id,
        IncidentNotification.channel == channel.name,
    )
    return select(
        Incident.id,
        literal(channel.name),
        literal(channel.tier),
        literal("pending"),
        literal(0),
        literal(now, DateTime),
        literal(now, DateTime),
    ).where(
        Incident.closed_at.is_(None),
        Incident.acknowledged_at.is_(None),
        *channel_hears(channel, Incident.severity, Incident.opened_at, now),
        ~already,
    )


def queue_incident_notifications(
    engine: Engine, channels: tuple[Channel, ...], now: datetime.datetime | None = None
) -> int:
    now = now or utcnow()
    return queue_rows(
        engine,
        IncidentNotification,
        ("incident_id", "channel", "tier", "status", "attempts", "created_at", "next_attempt_at"),
        ("incident_id", "channel"),
        [_due_for(channel, now) for channel in channels],
    )


def message_for(incident: Incident, tier: int | None) -> AlertMessage:
    host = incident.hostname or incident.agent_id or ""
    where = f"{host}：" if host else ""
    where_en = f"{host}: " if host else ""
    return AlertMessage(
        alert_id=f"incident-{incident.id}",
        kind=IncidentKind.INCIDENT,
        severity=incident.severity,  # type: ignore[arg-type]  # coerced to Severity
        title=LocalText(
            f"安全事件 #{incident.id}：{incident.title}",
            f"Incident #{incident.id}: {incident.title}",
        ),
        body=LocalText(
            f"{where}{incident.title}。逐级汇报：通知{tier_title(tier)}，请确认。",
            f"{where_en}{incident.title}. Reported up the chain to the "
            f"{tier_title(tier, 'en')}; please acknowledge.",
        ),
        subject=host or incident.title,
        opened_at=incident.opened_at.replace(tzinfo=datetime.UTC),
    )


class IncidentDeliverer(ClaimedOutbox[Incident]):
    """Sends due incident notifications through the channels given. One per worker thread."""

    table = IncidentNotification
    logger = logger
    noun = "incident"

    def load(self, session: Session, row_id: int) -> tuple[IncidentNotification, Incident]:
        notification, incident = session.execute(
            select(IncidentNotification, Incident)
            .join(Incident, Incident.id == IncidentNotification.incident_id)
            .where(IncidentNotification.id == row_id)
        ).one()
        return notification, incident

    def message(self, row: IncidentNotification, subject: Incident) -> AlertMessage:
        return message_for(subject, row.tier)

    def subject_id(self, subject: Incident) -> object:
        return subject.id

    def stop_reason(self, row: IncidentNotification, subject: Incident) -> str | None:
        if subject.acknowledged_at is not None or subject.closed_at is not None:
            # Acknowledged (or closed) after this tier was queued: the chain stops here.
            return "acknowledged or closed before sending"
        return None

    def crash_reason(self, error: Exception) -> str:
        # Only the error's type: an exception that is not a NotifierError was not written to be
        # shown (notifier errors carry no secrets), and the incident's record is what
        # auditors and its report read (an alert notification's row keeps the text).
        return f"crashed: {type(error).__name__}"

    def recorded(
        self,
        session: Session,
        row: IncidentNotification,
        subject: Incident,
        values: Mapping[str, Any],
    ) -> None:
        # The timeline's "who was told, when": the report's account of what was done.
        if values["status"] == "sent":
            session.add(
                IncidentEvent(
                    incident_id=subject.id,
                    at=values["sent_at"],
                    kind=ESCALATED,
                    actor="server",
                    text=f"已通知{tier_title(row.tier)}（渠道 {row.channel}）",
                    details={"tier": row.tier, "channel": row.channel},
                )
            )


class IncidentEscalation(ChannelWorker):
    """One worker thread's queueing and sending for the channels in force now (re-read when
    the settings' version changes, as the alert worker does)."""

    def __init__(
        self, engine: Engine, config: ServerConfig, data: Path, name: str | None = None
    ) -> None:
        from server.policy_settings.alerting import AlertingSource

        super().__init__(
            engine,
            AlertingSource(engine, config, data=data),
            queue_incident_notifications,
            IncidentDeliverer,
            name=name,
        )
