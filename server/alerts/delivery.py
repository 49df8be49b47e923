"""Sending alerts: queue one notification per (alert, channel), then claim and send them.

Each tick of the alert worker (server/alerts/jobs.py), in every server process:

1. ``queue_notifications``: one INSERT ... SELECT per channel queues a row for every open,
   unacknowledged alert at or above the channel's ``min_severity`` that has none yet and,
   for a channel on a later on-call tier, has gone unacknowledged for that tier's delay
   (``Channel.delay_seconds``, from ``oncall_tiers``; POLICY.md I2).
   ON CONFLICT DO NOTHING on the unique (alert, channel, event): processes racing queue once.
2. ``deliver_due``: picks due rows and claims each with a conditional UPDATE that only
   succeeds while nobody else holds it (``claimed_until`` in the past). The winner sends,
   then records the outcome with an UPDATE that still names it as the claimant. A loser
   moves on. So a notification is sent once even with several processes, as long as a send
   ends within the claim (``CLAIM_SECONDS``, far above any notifier's timeout); a process
   killed in mid-send leaves the claim to expire and the row is sent again (at least once).

``TemporaryFailure`` is retried with exponential backoff (or the receiver's Retry-After) up to
``MAX_ATTEMPTS``; ``PermanentFailure`` and running out of attempts mark the row failed with
the reason, which the operator sees. Alerts of a kind the notifiers do not know yet
(``server.notify.AlertKind``) are not queued.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Engine,
    and_,
    case,
    exists,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from checks.messages import render
from server.alerts.channels import SEVERITY_ORDER, Channel
from server.alerts.models import Alert, AlertNotification
from server.config import ServerConfig
from server.notify import (
    AlertKind,
    AlertMessage,
    LocalText,
    Notifier,
    NotifierError,
    PermanentFailure,
    TemporaryFailure,
)
from server.store.isolation import isolation_of
from server.store.models import Agent, LatestResult, utcnow

logger = logging.getLogger("xunjian.server.alerts")

CLAIM_SECONDS = 300
MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
BATCH = 20
ERROR_LENGTH = 500
NOTIFIABLE_KINDS = tuple(kind.value for kind in AlertKind)


def worker_name() -> str:
    """Who claims: host, process and thread, so a claim is traceable to one sender."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 10**8}"[:64]


def _severity_rank() -> Any:
    return case(
        {name: rank for rank, name in enumerate(SEVERITY_ORDER)}, value=Alert.severity, else_=-1
    )


def queue_notifications(
    engine: Engine, channels: tuple[Channel, ...], now: datetime.datetime | None = None
) -> int:
    now = now or utcnow()
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    queued = 0
    with engine.begin() as connection:
        for channel in channels:
            already = exists().where(
                AlertNotification.alert_id == Alert.id,
                AlertNotification.channel == channel.name,
                AlertNotification.event == "opened",
            )
            due = select(
                Alert.id,
                literal(channel.name),
                literal("opened"),
                literal("pending"),
                literal(0),
                literal(now, DateTime),
                literal(now, DateTime),
            ).where(
                Alert.resolved_at.is_(None),
                Alert.acknowledged_at.is_(None),
                Alert.kind.in_(NOTIFIABLE_KINDS),
                _severity_rank() >= SEVERITY_ORDER.index(channel.min_severity),
                # On-call escalation: a later tier hears of it only if nobody acknowledged it.
                Alert.opened_at <= now - datetime.timedelta(seconds=channel.delay_seconds),
                ~already,
            )
            statement = (
                insert(AlertNotification)
                .from_select(
                    [
                        "alert_id",
                        "channel",
                        "event",
                        "status",
                        "attempts",
                        "created_at",
                        "next_attempt_at",
                    ],
                    due,
                )
                .on_conflict_do_nothing(index_elements=["alert_id", "channel", "event"])
                .execution_options(preserve_rowcount=True)  # else -1 on psycopg
            )
            queued += max(connection.execute(statement).rowcount, 0)
    return queued


@dataclass(frozen=True)
class DeliveryOutcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


class Deliverer:
    """Sends due notifications through the configured channels. One per worker thread."""

    def __init__(
        self,
        engine: Engine,
        channels: tuple[Channel, ...],
        name: str | None = None,
        notifiers: Mapping[str, Notifier[Any]] | None = None,
        zone: str = "UTC",
    ) -> None:
        self.engine = engine
        self.zone = zone  # the console's time zone: messages give times as the console does
        self.name = name or worker_name()
        self.channels = {channel.name: channel for channel in channels}
        self.notifiers = dict(notifiers or {})
        for channel in channels:
            self.notifiers.setdefault(channel.name, channel.notifier())

    def deliver_due(self, now: datetime.datetime | None = None) -> DeliveryOutcome:
        now = now or utcnow()
        sent = retrying = failed = 0
        for notification_id in self._due(now):
            claimed = self._claim(notification_id, now)
            if claimed is None:
                continue  # another process took it
            outcome = self._send(claimed, now)
            sent += outcome == "sent"
            retrying += outcome == "pending"
            failed += outcome == "failed"
        return DeliveryOutcome(sent, retrying, failed)

    def _due(self, now: datetime.datetime) -> list[int]:
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    select(AlertNotification.id)
                    .where(
                        AlertNotification.status == "pending",
                        AlertNotification.next_attempt_at <= now,
                        AlertNotification.channel.in_(list(self.channels)),
                        or_(
                            AlertNotification.claimed_until.is_(None),
                            AlertNotification.claimed_until < now,
                        ),
                    )
                    .order_by(AlertNotification.id)
                    .limit(BATCH)
                )
            )

    def _claim(self, notification_id: int, now: datetime.datetime) -> Any:
        until = now + datetime.timedelta(seconds=CLAIM_SECONDS)
        with self.engine.begin() as connection:
            won = connection.execute(
                update(AlertNotification)
                .where(
                    AlertNotification.id == notification_id,
                    AlertNotification.status == "pending",
                    or_(
                        AlertNotification.claimed_until.is_(None),
                        AlertNotification.claimed_until < now,
                    ),
                )
                .values(
                    claimed_by=self.name,
                    claimed_until=until,
                    attempts=AlertNotification.attempts + 1,
                )
            ).rowcount
            if won != 1:
                return None
        with Session(self.engine, expire_on_commit=False) as session:
            notification, alert, hostname = session.execute(
                select(AlertNotification, Alert, Agent.hostname)
                .join(Alert, Alert.id == AlertNotification.alert_id)
                .outerjoin(Agent, Agent.id == Alert.agent_id)
                .where(AlertNotification.id == notification_id)
            ).one()
            # The message says when the host is cut off (docs/incidents.md): whoever reads it
            # knows not to go looking for it on the network.
            isolation = isolation_of(session, [alert.agent_id]).get(alert.agent_id or "")
            said = _said_of(session, alert)
            return notification, alert, hostname, bool(isolation and isolation.isolated), said

    def _send(self, claimed: Any, now: datetime.datetime) -> str:
        notification, alert, hostname, isolated, said = claimed
        values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
        try:
            message = message_for(alert, hostname, isolated, self.zone, said)
            delivery = self.notifiers[notification.channel].send(message)
        except TemporaryFailure as error:
            if notification.attempts >= MAX_ATTEMPTS:
                values.update(status="failed", last_error=_reason(error, "gave up"))
            else:
                values.update(
                    status="pending",
                    last_error=_reason(error, "will retry"),
                    next_attempt_at=now + retry_delay(notification.attempts, error.retry_after),
                )
        except (PermanentFailure, NotifierError) as error:
            values.update(status="failed", last_error=_reason(error, "permanent"))
        except Exception as error:  # a bug in a notifier must not stop the other alerts
            logger.exception("alerts: notifier %s crashed", notification.channel)
            values.update(status="failed", last_error=_reason(error, "crashed"))
        else:
            values.update(status="sent", sent_at=utcnow(), target=delivery.target[:200])
        with self.engine.begin() as connection:
            connection.execute(
                update(AlertNotification)
                .where(
                    and_(
                        AlertNotification.id == notification.id,
                        AlertNotification.claimed_by == self.name,
                    )
                )
                .values(**values)
            )
        if values["status"] != "sent":
            logger.warning(
                "alerts: notification %s (alert %s) via %s: %s",
                notification.id,
                alert.id,
                notification.channel,
                values.get("last_error"),
            )
        return str(values["status"])


class ChannelDelivery:
    """One worker thread's queueing and sending for the channels in force *now*: config.json's,
    or the database's once an administrator edited them in the console
    (server/policy_settings/alerting.py). Each tick asks the database for the settings version
    (one SELECT) and rebuilds its channels and notifiers when it changed, so an edit made
    through one server process is used by every process from its next tick. ``data`` is the
    data folder: its secret-key opens the channel secrets sealed in the database."""

    def __init__(
        self, engine: Engine, config: ServerConfig, data: Path, name: str | None = None
    ) -> None:
        from server.policy_settings.alerting import AlertingSource

        self.engine = engine
        self.name = name or worker_name()
        self.source = AlertingSource(engine, config, data=data)
        self.zone = config.console_timezone
        self._deliverer: Deliverer | None = None
        self._channels: tuple[Channel, ...] | None = None

    def tick(self, now: datetime.datetime | None = None) -> DeliveryOutcome:
        channels = self.source.current().channels
        if self._deliverer is None or channels != self._channels:
            self._deliverer = Deliverer(self.engine, channels, name=self.name, zone=self.zone)
            self._channels = channels
        if not channels:
            return DeliveryOutcome()
        queue_notifications(self.engine, channels, now)
        return self._deliverer.deliver_due(now)


def retry_delay(attempts: int, retry_after: float | None = None) -> datetime.timedelta:
    backoff = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    if retry_after is not None:
        backoff = min(max(backoff, retry_after), MAX_RETRY_SECONDS)
    return datetime.timedelta(seconds=backoff)


def _reason(error: Exception, what: str) -> str:
    return f"{what}: {type(error).__name__}: {error}"[:ERROR_LENGTH]


_TITLES = {
    "check_failed": ("检查未通过：{check}", "Check failed: {check}"),
    "agent_silent": ("主机失联：{host}", "Host silent: {host}"),
    # Page monitors (server/monitors): the subject is the page's URL.
    # "down" is any failed up/down condition (no answer, a status, a keyword), so the title
    # names none of them; the body says which.
    "down": ("页面检查未通过：{resource}", "Page check failed: {resource}"),
    "slow": ("页面响应慢：{resource}", "Page slow: {resource}"),
    "cert": ("网站证书问题：{resource}", "Certificate problem: {resource}"),
    "tamper": ("页面疑似被篡改：{resource}", "Page may have been tampered with: {resource}"),
}


def _said_of(session: Session, alert: Alert) -> dict[str, Any] | None:
    """The message id and parameters of a failed check's alert: its host's newest result for
    that check and resource, when that result still says the alert's sentence (the same
    matching as the console's alert list, server/alerts/views.py)."""
    if alert.kind != "check_failed" or not alert.agent_id or not alert.check_id:
        return None
    row = session.execute(
        select(LatestResult.message, LatestResult.said).where(
            LatestResult.agent_id == alert.agent_id,
            LatestResult.check_id == alert.check_id,
            LatestResult.resource == alert.resource,
        )
    ).first()
    if row is None or row.message != alert.message or not isinstance(row.said, dict):
        return None
    return row.said


def said_text(said: Mapping[str, Any] | None, english: str) -> tuple[str, str]:
    """A result's sentence as (Chinese, English) from its message id (checks/messages.py); the
    agent's English in both when there is no id, or this server does not know it or its
    parameters do not fill it (a newer agent)."""
    if not said or not isinstance(said.get("params") or {}, dict):
        return english, english
    message_id = str(said.get("id") or "")
    params = {str(k): str(v) for k, v in (said.get("params") or {}).items()}
    chinese = render(message_id, params, "zh")
    if chinese is None:
        return english, english
    return chinese, render(message_id, params, "en") or english


def message_for(
    alert: Alert,
    hostname: str | None,
    isolated: bool = False,
    zone: str = "UTC",
    said: Mapping[str, Any] | None = None,
) -> AlertMessage:
    """The alert as a message; its time in ``zone`` (the console's), which the message names.
    ``isolated``: the host is isolated (or being isolated), which the body then says. ``said``:
    the failed result's message id and parameters (``LatestResult.said``), so the body says the
    sentence in Chinese and English (issue 13 item 5); without it both carry the stored text."""
    host = hostname or alert.agent_id or ""
    zh, en = _TITLES.get(alert.kind, ("告警：{host}", "Alert: {host}"))
    words = {"check": alert.check_id, "host": host, "resource": alert.resource}
    where = " / ".join(part for part in (host, alert.resource) if part)
    chinese, english = said_text(said, alert.message)
    return AlertMessage(
        alert_id=str(alert.id),
        kind=alert.kind,  # type: ignore[arg-type]  # coerced to AlertKind
        severity=alert.severity,  # type: ignore[arg-type]
        title=LocalText(zh.format(**words), en.format(**words)),
        body=LocalText(
            f"{where}：{chinese}" + ("（该主机已断网隔离）" if isolated else ""),
            f"{where}: {english}"
            + (" (the host is isolated from the network)" if isolated else ""),
        ),
        subject=host or alert.resource,
        opened_at=alert.opened_at.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo(zone)),
    )
