"""Reporting up the chain (POLICY.md I2, 逐级汇报): an incident nobody acknowledged goes to the
roster's next tier after that tier's delay, through the channels in force.

It uses what alerts use, not a copy: the channels and roster in force come from
``server.policy_settings.alerting.AlertingSource`` (config.json's, or the console's once an
administrator edited them), each channel carries its tier and the delay after which it is told
(``Channel.delay_seconds``: the sum of the tiers' ``escalate_after_seconds`` before it), the
messages go through the channel's own notifier (server/notify), and retries follow the alert
worker's backoff (``server.alerts.delivery.retry_delay``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, case, exists, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.alerts.channels import SEVERITY_ORDER, Channel
from server.alerts.delivery import (
    BATCH,
    CLAIM_SECONDS,
    ERROR_LENGTH,
    MAX_ATTEMPTS,
    retry_delay,
    worker_name,
)
from server.config import ServerConfig
from server.incidents.models import Incident, IncidentEvent, IncidentNotification
from server.incidents.store import ESCALATED
from server.notify import (
    AlertMessage,
    IncidentKind,
    LocalText,
    Notifier,
    NotifierError,
    PermanentFailure,
    TemporaryFailure,
)
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


def _severity_rank() -> Any:
    return case(
        {name: rank for rank, name in enumerate(SEVERITY_ORDER)},
        value=Incident.severity,
        else_=-1,
    )


def queue_incident_notifications(
    engine: Engine, channels: tuple[Channel, ...], now: datetime.datetime | None = None
) -> int:
    now = now or utcnow()
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    queued = 0
    with engine.begin() as connection:
        for channel in channels:
            already = exists().where(
                IncidentNotification.incident_id == Incident.id,
                IncidentNotification.channel == channel.name,
            )
            due = select(
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
                _severity_rank() >= SEVERITY_ORDER.index(channel.min_severity),
                Incident.opened_at <= now - datetime.timedelta(seconds=channel.delay_seconds),
                ~already,
            )
            statement = (
                insert(IncidentNotification)
                .from_select(
                    [
                        "incident_id",
                        "channel",
                        "tier",
                        "status",
                        "attempts",
                        "created_at",
                        "next_attempt_at",
                    ],
                    due,
                )
                .on_conflict_do_nothing(index_elements=["incident_id", "channel"])
                .execution_options(preserve_rowcount=True)  # else -1 on psycopg
            )
            queued += max(connection.execute(statement).rowcount, 0)
    return queued


@dataclass(frozen=True)
class EscalationOutcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    stopped: int = 0


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


class IncidentDeliverer:
    """Sends due incident notifications through the channels given. One per worker thread."""

    def __init__(
        self,
        engine: Engine,
        channels: tuple[Channel, ...],
        name: str | None = None,
        notifiers: Mapping[str, Notifier[Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.name = name or worker_name()
        self.channels = {channel.name: channel for channel in channels}
        self.notifiers = dict(notifiers or {})
        for channel in channels:
            self.notifiers.setdefault(channel.name, channel.notifier())

    def deliver_due(self, now: datetime.datetime | None = None) -> EscalationOutcome:
        now = now or utcnow()
        counts = {"sent": 0, "pending": 0, "failed": 0, "stopped": 0}
        for notification_id in self._due(now):
            if not self._claim(notification_id, now):
                continue  # another process took it
            counts[self._send(notification_id, now)] += 1
        return EscalationOutcome(
            counts["sent"], counts["pending"], counts["failed"], counts["stopped"]
        )

    def _due(self, now: datetime.datetime) -> list[int]:
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    select(IncidentNotification.id)
                    .where(
                        IncidentNotification.status == "pending",
                        IncidentNotification.next_attempt_at <= now,
                        IncidentNotification.channel.in_(list(self.channels)),
                        or_(
                            IncidentNotification.claimed_until.is_(None),
                            IncidentNotification.claimed_until < now,
                        ),
                    )
                    .order_by(IncidentNotification.id)
                    .limit(BATCH)
                )
            )

    def _claim(self, notification_id: int, now: datetime.datetime) -> bool:
        until = now + datetime.timedelta(seconds=CLAIM_SECONDS)
        with self.engine.begin() as connection:
            won = connection.execute(
                update(IncidentNotification)
                .where(
                    IncidentNotification.id == notification_id,
                    IncidentNotification.status == "pending",
                    or_(
                        IncidentNotification.claimed_until.is_(None),
                        IncidentNotification.claimed_until < now,
                    ),
                )
                .values(
                    claimed_by=self.name,
                    claimed_until=until,
                    attempts=IncidentNotification.attempts + 1,
                )
            ).rowcount
        return won == 1

    def _send(self, notification_id: int, now: datetime.datetime) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            notification, incident = session.execute(
                select(IncidentNotification, Incident)
                .join(Incident, Incident.id == IncidentNotification.incident_id)
                .where(IncidentNotification.id == notification_id)
            ).one()
        values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
        if incident.acknowledged_at is not None or incident.closed_at is not None:
            # Acknowledged (or closed) after this tier was queued: the chain stops here.
            values.update(status="stopped", last_error="acknowledged or closed before sending")
        else:
            try:
                delivery = self.notifiers[notification.channel].send(
                    message_for(incident, notification.tier)
                )
            except TemporaryFailure as error:
                reason = f"{type(error).__name__}: {error}"
                if notification.attempts >= MAX_ATTEMPTS:
                    values.update(status="failed", last_error=f"gave up: {reason}"[:ERROR_LENGTH])
                else:
                    values.update(
                        status="pending",
                        last_error=f"will retry: {reason}"[:ERROR_LENGTH],
                        next_attempt_at=now + retry_delay(notification.attempts, error.retry_after),
                    )
            except (PermanentFailure, NotifierError) as error:
                values.update(
                    status="failed",
                    last_error=f"permanent: {type(error).__name__}: {error}"[:ERROR_LENGTH],
                )
            except Exception as error:  # a notifier's bug must not stop the other incidents
                logger.exception("incidents: notifier %s crashed", notification.channel)
                values.update(
                    status="failed", last_error=f"crashed: {type(error).__name__}"[:ERROR_LENGTH]
                )
            else:
                values.update(status="sent", sent_at=utcnow(), target=delivery.target[:200])
        with Session(self.engine) as session:
            won = session.execute(
                update(IncidentNotification)
                .where(
                    IncidentNotification.id == notification.id,
                    IncidentNotification.claimed_by == self.name,
                )
                .values(**values)
            ).rowcount
            if won and values["status"] == "sent":
                session.add(
                    IncidentEvent(
                        incident_id=incident.id,
                        at=values["sent_at"],
                        kind=ESCALATED,
                        actor="server",
                        text=(
                            f"已通知{tier_title(notification.tier)}（渠道 {notification.channel}）"
                        ),
                        details={"tier": notification.tier, "channel": notification.channel},
                    )
                )
            session.commit()
        if values["status"] in ("failed", "pending"):
            logger.warning(
                "incidents: notification %s (incident %s) via %s: %s",
                notification.id,
                incident.id,
                notification.channel,
                values.get("last_error"),
            )
        return "pending" if values["status"] == "pending" else str(values["status"])


class IncidentEscalation:
    """One worker thread's queueing and sending for the channels in force now (re-read when
    the settings' version changes, as the alert worker does)."""

    def __init__(
        self, engine: Engine, config: ServerConfig, data: Path, name: str | None = None
    ) -> None:
        from server.policy_settings.alerting import AlertingSource

        self.engine = engine
        self.name = name or worker_name()
        self.source = AlertingSource(engine, config, data=data)
        self._deliverer: IncidentDeliverer | None = None
        self._channels: tuple[Channel, ...] | None = None

    def tick(self, now: datetime.datetime | None = None) -> EscalationOutcome:
        channels = self.source.current().channels
        if self._deliverer is None or channels != self._channels:
            self._deliverer = IncidentDeliverer(self.engine, channels, name=self.name)
            self._channels = channels
        if not channels:
            return EscalationOutcome()
        queue_incident_notifications(self.engine, channels, now)
        return self._deliverer.deliver_due(now)
