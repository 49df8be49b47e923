"""A claimed outbox: the one way the server sends messages through the alert channels, for
alerts (server/alerts/delivery.py) and incidents (server/incidents/escalation.py) alike.

A feature keeps an outbox table, one row per message to one channel, with the columns of
``OutboxTable`` (``AlertNotification``, ``IncidentNotification``). Each tick of its worker, in
every server process:

1. ``queue_rows``: one INSERT ... SELECT per channel queues the rows that are due, with
   ON CONFLICT DO NOTHING on the table's unique key, so processes racing queue each once.
2. ``ClaimedOutbox.deliver_due``: picks due rows and claims each with a conditional UPDATE
   that only succeeds while nobody else holds it (``claimed_until`` in the past). The winner
   sends, then records the outcome with an UPDATE that still names it as the claimant. A
   loser moves on. So a message is sent once even with several processes, as long as a send
   ends within the claim (``CLAIM_SECONDS``, far above any notifier's timeout); a process
   killed in mid-send leaves the claim to expire and the row is sent again (at least once).

``TemporaryFailure`` is retried with exponential backoff (or the receiver's Retry-After) up to
``MAX_ATTEMPTS``; ``PermanentFailure`` and running out of attempts mark the row failed with
the reason, which the operator sees. A row whose subject no longer wants telling (an incident
acknowledged after it was queued) is marked stopped, unsent.

``ChannelWorker`` is the tick of one worker thread over the channels in force, rebuilt when an
administrator changes them.
"""

from __future__ import annotations

import datetime
import logging
import os
import socket
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import Engine, Select, case, or_, select, update
from sqlalchemy.orm import Session

from server.alerts.channels import SEVERITY_ORDER, Channel
from server.notify import (
    AlertMessage,
    Notifier,
    NotifierError,
    PermanentFailure,
    TemporaryFailure,
)
from server.store.engine import conflict_insert
from server.store.models import utcnow

CLAIM_SECONDS = 300
MAX_ATTEMPTS = 8
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 3600
BATCH = 20
ERROR_LENGTH = 500
TARGET_LENGTH = 200


def worker_name() -> str:
    """Who claims: host, process and thread, so a claim is traceable to one sender."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{threading.get_ident() % 10**8}"[:64]


def retry_delay(attempts: int, retry_after: float | None = None) -> datetime.timedelta:
    backoff = min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS)
    if retry_after is not None:
        backoff = min(max(backoff, retry_after), MAX_RETRY_SECONDS)
    return datetime.timedelta(seconds=backoff)


def reason(error: Exception, what: str) -> str:
    """``last_error`` of a row: what became of it, then the error, cut to the column."""
    return f"{what}: {type(error).__name__}: {error}"[:ERROR_LENGTH]


def channel_hears(
    channel: Channel,
    severity: Any,
    opened_at: Any,
    now: datetime.datetime,
) -> tuple[Any, Any]:
    """The conditions under which ``channel`` is told of a subject (an alert, an incident) with
    these ``severity`` and ``opened_at`` columns by ``now``: at or above the channel's
    ``min_severity``, and open for at least its on-call tier's delay (a later tier hears of it
    only if nobody acknowledged it by then; the caller keeps the acknowledged out)."""
    rank = case({name: rank for rank, name in enumerate(SEVERITY_ORDER)}, value=severity, else_=-1)
    return (
        rank >= SEVERITY_ORDER.index(channel.min_severity),
        opened_at <= now - datetime.timedelta(seconds=channel.delay_seconds),
    )


def queue_rows(
    engine: Engine,
    table: Any,
    columns: Sequence[str],
    unique: Sequence[str],
    selects: Iterable[Select[Any]],
) -> int:
    """Insert the rows each of ``selects`` yields (their columns in the order of ``columns``)
    into the outbox ``table`` in one transaction, skipping those whose ``unique`` columns are
    queued already. Returns how many were queued."""
    insert = conflict_insert(engine)
    queued = 0
    with engine.begin() as connection:
        for due in selects:
            statement = (
                insert(table)
                .from_select(list(columns), due)
                .on_conflict_do_nothing(index_elements=list(unique))
                .execution_options(preserve_rowcount=True)  # else -1 on psycopg
            )
            queued += max(connection.execute(statement).rowcount, 0)
    return queued


@dataclass(frozen=True)
class DeliveryOutcome:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    stopped: int = 0  # not sent: its subject no longer wanted telling


class OutboxRow(Protocol):
    """The columns every outbox table has (besides its subject's key and ``created_at``)."""

    id: int
    channel: str
    status: str  # pending | sent | failed (| stopped)
    attempts: int
    next_attempt_at: datetime.datetime
    claimed_by: str | None
    claimed_until: datetime.datetime | None


Subject = TypeVar("Subject")


class ClaimedOutbox(ABC, Generic[Subject]):
    """Sends the due rows of one outbox table through the channels given. One per worker
    thread. A subclass names its table and says what a row's message is made of (its
    ``Subject``: an alert and its host's name, an incident) and what that message says."""

    table: ClassVar[Any]  # the mapped outbox class; its columns are ``OutboxRow``'s
    logger: ClassVar[logging.Logger]
    noun: ClassVar[str]  # what a row tells of ("alert"), for the log lines

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

    @abstractmethod
    def load(self, session: Session, row_id: int) -> tuple[Any, Subject]:
        """The claimed row and its subject."""

    @abstractmethod
    def message(self, row: Any, subject: Subject) -> AlertMessage:
        """What the channel is sent."""

    @abstractmethod
    def subject_id(self, subject: Subject) -> object:
        """The subject's id, for the log lines."""

    def stop_reason(self, row: Any, subject: Subject) -> str | None:
        """Why the row is not to be sent any more (it is then marked stopped), or None."""
        return None

    def crash_reason(self, error: Exception) -> str:
        """``last_error`` when a notifier raised something it should not have."""
        return reason(error, "crashed")

    def recorded(
        self, session: Session, row: Any, subject: Subject, values: Mapping[str, Any]
    ) -> None:
        """Called once the claimant recorded the outcome ``values``, in that transaction: what
        else a feature keeps of a sending (an incident's timeline) commits with it."""

    def deliver_due(self, now: datetime.datetime | None = None) -> DeliveryOutcome:
        now = now or utcnow()
        counts: Counter[str] = Counter()
        for row_id in self._due(now):
            if not self._claim(row_id, now):
                continue  # another process took it
            counts[self._send(row_id, now)] += 1
        return DeliveryOutcome(
            counts["sent"], counts["pending"], counts["failed"], counts["stopped"]
        )

    def _unclaimed(self, now: datetime.datetime) -> Any:
        table = self.table
        return or_(table.claimed_until.is_(None), table.claimed_until < now)

    def _due(self, now: datetime.datetime) -> list[int]:
        table = self.table
        with self.engine.connect() as connection:
            return list(
                connection.scalars(
                    select(table.id)
                    .where(
                        table.status == "pending",
                        table.next_attempt_at <= now,
                        table.channel.in_(list(self.channels)),
                        self._unclaimed(now),
                    )
                    .order_by(table.id)
                    .limit(BATCH)
                )
            )

    def _claim(self, row_id: int, now: datetime.datetime) -> bool:
        table = self.table
        until = now + datetime.timedelta(seconds=CLAIM_SECONDS)
        with self.engine.begin() as connection:
            won = connection.execute(
                update(table)
                .where(table.id == row_id, table.status == "pending", self._unclaimed(now))
                .values(claimed_by=self.name, claimed_until=until, attempts=table.attempts + 1)
            ).rowcount
        return won == 1

    def _attempt(self, row: OutboxRow, subject: Subject, now: datetime.datetime) -> dict[str, Any]:
        """Send the row's message once; the columns that record how it went."""
        try:
            delivery = self.notifiers[row.channel].send(self.message(row, subject))
        except TemporaryFailure as error:
            if row.attempts >= MAX_ATTEMPTS:
                return {"status": "failed", "last_error": reason(error, "gave up")}
            return {
                "status": "pending",
                "last_error": reason(error, "will retry"),
                "next_attempt_at": now + retry_delay(row.attempts, error.retry_after),
            }
        except (PermanentFailure, NotifierError) as error:
            return {"status": "failed", "last_error": reason(error, "permanent")}
        except Exception as error:  # a bug in a notifier must not stop the other rows
            self.logger.exception("%ss: notifier %s crashed", self.noun, row.channel)
            return {"status": "failed", "last_error": self.crash_reason(error)}
        return {"status": "sent", "sent_at": utcnow(), "target": delivery.target[:TARGET_LENGTH]}

    def _send(self, row_id: int, now: datetime.datetime) -> str:
        with Session(self.engine, expire_on_commit=False) as session:
            row, subject = self.load(session, row_id)
        values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
        stop = self.stop_reason(row, subject)
        if stop is not None:
            values.update(status="stopped", last_error=stop)
        else:
            values.update(self._attempt(row, subject, now))
        table = self.table
        with Session(self.engine) as session:
            won = session.execute(
                update(table)
                .where(table.id == row.id, table.claimed_by == self.name)
                .values(**values)
            ).rowcount
            if won:
                self.recorded(session, row, subject, values)
            session.commit()
        if values["status"] in ("pending", "failed"):
            self.logger.warning(
                "%ss: notification %s (%s %s) via %s: %s",
                self.noun,
                row.id,
                self.noun,
                self.subject_id(subject),
                row.channel,
                values.get("last_error"),
            )
        return str(values["status"])


class ChannelsInForce(Protocol):
    channels: tuple[Channel, ...]


class ChannelSource(Protocol):
    """Where the channels in force come from (server.policy_settings.alerting.AlertingSource:
    config.json's, or the database's once an administrator edited them in the console)."""

    def current(self) -> ChannelsInForce: ...


# queue_notifications, queue_incident_notifications: (engine, channels, now) -> rows queued
Queue = Callable[[Engine, tuple[Channel, ...], datetime.datetime | None], int]


class ChannelWorker:
    """One worker thread's queueing and sending for the channels in force *now*. Each tick asks
    ``source`` for them (one SELECT of the settings' version) and rebuilds its outbox and
    notifiers when they changed, so an edit made through one server process is used by every
    process from its next tick."""

    def __init__(
        self,
        engine: Engine,
        source: ChannelSource,
        queue: Queue,
        outbox: Callable[..., ClaimedOutbox[Any]],
        name: str | None = None,
    ) -> None:
        self.engine = engine
        self.name = name or worker_name()
        self.source = source
        self._queue = queue
        self._make_outbox = outbox
        self._outbox: ClaimedOutbox[Any] | None = None
        self._channels: tuple[Channel, ...] | None = None

    def tick(self, now: datetime.datetime | None = None) -> DeliveryOutcome:
        channels = self.source.current().channels
        if self._outbox is None or channels != self._channels:
            self._outbox = self._make_outbox(self.engine, channels, name=self.name)
            self._channels = channels
        if not channels:
            return DeliveryOutcome()
        self._queue(self.engine, channels, now)
        return self._outbox.deliver_due(now)
