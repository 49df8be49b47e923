"""Sending alerts: queue one notification per (alert, channel), then claim and send them,
through the claimed outbox the incidents use too (server/alerts/outbox.py).

Each tick of the alert worker (server/alerts/jobs.py), in every server process:

1. ``queue_notifications``: one INSERT ... SELECT per channel queues a row for every open,
   unacknowledged alert at or above the channel's ``min_severity`` that has none yet and,
   for a channel on a later on-call tier, has gone unacknowledged for that tier's delay
   (``Channel.delay_seconds``, from ``oncall_tiers``; POLICY.md I2).
   ON CONFLICT DO NOTHING on the unique (alert, channel, event): processes racing queue once.
2. ``Deliverer.deliver_due``: claims each due row with a conditional UPDATE, sends it once,
   and records the outcome; retries with backoff (``server.alerts.outbox``).

Alerts of a kind the notifiers do not know yet (``server.notify.AlertKind``) are not queued.
"""

from __future__ import annotations

import datetime
import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Engine, exists, literal, select
from sqlalchemy.orm import Session

from checks.messages import render
from server.alerts.channels import Channel
from server.alerts.models import Alert, AlertNotification
from server.alerts.outbox import ChannelWorker, ClaimedOutbox, channel_hears, queue_rows

# Kept importable from here: server/sites/jobs.py (on main since the site-health merge, being
# changed by its owner) claims its crawls with it.
from server.alerts.outbox import worker_name as worker_name
from server.config import ServerConfig
from server.notify import AlertKind, AlertMessage, LocalText, Notifier
from server.store.isolation import isolation_of
from server.store.models import Agent, LatestResult, utcnow

logger = logging.getLogger("xunjian.server.alerts")

NOTIFIABLE_KINDS = tuple(kind.value for kind in AlertKind)


def _due_for(channel: Channel, now: datetime.datetime) -> Any:
    """The rows to queue for ``channel``: alerts it should hear of by ``now`` and has not."""
    already = exists().where(
        AlertNotification.alert_id == Alert.id,
        AlertNotification.channel == channel.name,
        AlertNotification.event == "opened",
    )
    return select(
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
        *channel_hears(channel, Alert.severity, Alert.opened_at, now),
        ~already,
    )


def queue_notifications(
    engine: Engine, channels: tuple[Channel, ...], now: datetime.datetime | None = None
) -> int:
    now = now or utcnow()
    return queue_rows(
        engine,
        AlertNotification,
        ("alert_id", "channel", "event", "status", "attempts", "created_at", "next_attempt_at"),
        ("alert_id", "channel", "event"),
        [_due_for(channel, now) for channel in channels],
    )


# What an alert's message is made of: the alert, its host's name (None: not a host's),
# whether that host is isolated, and the failed result's message id and parameters (None: the
# stored English only).
AlertSubject = tuple[Alert, str | None, bool, dict[str, Any] | None]


class Deliverer(ClaimedOutbox[AlertSubject]):
    """Sends due alert notifications through the configured channels. One per worker thread."""

    table = AlertNotification
    logger = logger
    noun = "alert"

    def __init__(
        self,
        engine: Engine,
        channels: tuple[Channel, ...],
        name: str | None = None,
        notifiers: Mapping[str, Notifier[Any]] | None = None,
        zone: str = "UTC",
    ) -> None:
        super().__init__(engine, channels, name, notifiers)
        self.zone = zone  # the console's time zone: messages give times as the console does

    def load(self, session: Session, row_id: int) -> tuple[AlertNotification, AlertSubject]:
        notification, alert, hostname = session.execute(
            select(AlertNotification, Alert, Agent.hostname)
            .join(Alert, Alert.id == AlertNotification.alert_id)
            .outerjoin(Agent, Agent.id == Alert.agent_id)
            .where(AlertNotification.id == row_id)
        ).one()
        # The message says when the host is cut off (docs/incidents.md): whoever reads it
        # knows not to go looking for it on the network.
        isolation = isolation_of(session, [alert.agent_id]).get(alert.agent_id or "")
        isolated = bool(isolation and isolation.isolated)
        return notification, (alert, hostname, isolated, _said_of(session, alert))

    def message(self, row: AlertNotification, subject: AlertSubject) -> AlertMessage:
        alert, hostname, isolated, said = subject
        return message_for(alert, hostname, isolated, self.zone, said)

    def subject_id(self, subject: AlertSubject) -> object:
        return subject[0].id


class ChannelDelivery(ChannelWorker):
    """The alert worker's tick over the channels in force: config.json's, or the database's
    once an administrator edited them in the console (server/policy_settings/alerting.py).
    ``data`` is the data folder: its secret-key opens the channel secrets sealed in the
    database."""

    def __init__(
        self, engine: Engine, config: ServerConfig, data: Path, name: str | None = None
    ) -> None:
        from server.policy_settings.alerting import AlertingSource

        super().__init__(
            engine,
            AlertingSource(engine, config, data=data),
            queue_notifications,
            functools.partial(Deliverer, zone=config.console_timezone),
            name=name,
        )


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
