"""Appending to the chain, signing checkpoints, purging past retention, reading pages.

Appends are serialised across threads and processes by locking the single ``oplog_head`` row
inside the appending transaction: ``SELECT ... FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite (which takes the database's write lock before the head is read, so no two appenders
read the same head). The entry's sequence number is also its primary key: should the lock ever
be bypassed, the second writer fails instead of forking the chain.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.orm import Session

from server.oplog.chain import GENESIS_HASH, EntryFields, entry_hash
from server.oplog.models import OplogCheckpoint, OplogEntry, OplogHead
from server.oplog.settings import OplogSettings
from server.oplog.signing import (
    CheckpointClaim,
    SignedClaim,
    SigningKeyError,
    append_anchors,
    ensure_signing_key,
    key_id,
    sign_claim,
)
from server.store.models import utcnow

HEAD_ID = 1
# The newest signed entry is at most this old when another is appended (see append()).
SIGN_WITHIN = datetime.timedelta(seconds=60)
PURGE_ACTION = "oplog.purge"
logger = logging.getLogger("xunjian.server.oplog")


class OplogError(Exception):
    """The log cannot be written; the message says why."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    checkpoint_seq: int


@dataclass(frozen=True)
class Appended:
    seq: int
    hash: str
    at: datetime.datetime


@dataclass(frozen=True)
class PurgeResult:
    purged: int
    through_seq: int
    cutoff: datetime.datetime
    entry: Appended


def lock_head(connection: Connection) -> Head:
    """Begin the appending transaction and hold the head until it ends."""
    if connection.dialect.name == "sqlite":
        # pysqlite would open a deferred transaction only at the first write, after the head
        # was read; IMMEDIATE takes the write lock first (waiting up to busy_timeout).
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    row = connection.execute(
        select(OplogHead.seq, OplogHead.hash, OplogHead.checkpoint_seq)
        .where(OplogHead.id == HEAD_ID)
        .with_for_update()
    ).one_or_none()
    if row is None:
        raise OplogError("the operation log has no head row: the database is not migrated")
    return Head(seq=row.seq, hash=row.hash, checkpoint_seq=row.checkpoint_seq)


def read_head(connection: Connection) -> Head | None:
    row = connection.execute(
        select(OplogHead.seq, OplogHead.hash, OplogHead.checkpoint_seq).where(
            OplogHead.id == HEAD_ID
        )
    ).one_or_none()
    return None if row is None else Head(row.seq, row.hash, row.checkpoint_seq)


def current_anchor(connection: Connection) -> tuple[int, str]:
    """(sequence number, hash) of the last purged entry, from the newest checkpoint that
    recorded one; (0, GENESIS_HASH) before any purge."""
    row = connection.execute(
        select(OplogCheckpoint.anchor_seq, OplogCheckpoint.anchor_hash)
        .order_by(OplogCheckpoint.anchor_seq.desc(), OplogCheckpoint.id.desc())
        .limit(1)
    ).one_or_none()
    return (0, GENESIS_HASH) if row is None else (row.anchor_seq, row.anchor_hash)


def _insert_entry(
    connection: Connection, head: Head, fields: EntryFields, at: datetime.datetime
) -> Appended:
    seq = head.seq + 1
    digest = entry_hash(seq, at, fields, head.hash)
    connection.execute(
        insert(OplogEntry).values(
            seq=seq,
            at=at,
            actor=fields.actor,
            role=fields.role,
            action=fields.action,
            target=fields.target,
            outcome=fields.outcome,
            reason=fields.reason,
            client_address=fields.client_address,
            client_port=fields.client_port,
            details=fields.details,
            prev_hash=head.hash,
            hash=digest,
        )
    )
    connection.execute(
        update(OplogHead).where(OplogHead.id == HEAD_ID).values(seq=seq, hash=digest)
    )
    return Appended(seq=seq, hash=digest, at=at)


def _insert_checkpoint(
    connection: Connection,
    key: Ed25519PrivateKey,
    entry: Appended,
    kind: str,
    anchor: tuple[int, str],
) -> SignedClaim:
    """Insert a signed checkpoint; the caller appends it to the anchor file after its commit
    (never before: a rolled-back checkpoint in the file would read as a truncated log)."""
    claim = CheckpointClaim(
        seq=entry.seq,
        hash=entry.hash,
        at=utcnow(),
        kind=kind,
        anchor_seq=anchor[0],
        anchor_hash=anchor[1],
        key_id=key_id(key.public_key()),
    )
    connection.execute(
        insert(OplogCheckpoint).values(
            seq=claim.seq,
            hash=claim.hash,
            at=claim.at,
            kind=claim.kind,
            anchor_seq=claim.anchor_seq,
            anchor_hash=claim.anchor_hash,
            key_id=claim.key_id,
            signature=(signature := sign_claim(key, claim)),
        )
    )
    connection.execute(
        update(OplogHead).where(OplogHead.id == HEAD_ID).values(checkpoint_seq=entry.seq)
    )
    return SignedClaim(claim, signature)


class OperationLog:
    """The log of one data folder and database. Thread safe; one per app (or CLI command)."""

    def __init__(
        self, engine: Engine, data_dir: Path, settings: OplogSettings | None = None
    ) -> None:
        self.engine = engine
        self.data_dir = data_dir
        self.settings = settings or OplogSettings()
        self._key: Ed25519PrivateKey | None = None
        self._key_lock = threading.Lock()

    def signing_key(self) -> Ed25519PrivateKey:
        with self._key_lock:
            if self._key is None:
                self._key = ensure_signing_key(self.data_dir)
            return self._key

    def append(self, fields: EntryFields, at: datetime.datetime | None = None) -> Appended:
        """Add one entry (and a checkpoint when one is due), committed before returning.

        ``at`` is for tests and imports; by default the time is taken under the lock, so times
        rise with sequence numbers and the purge can cut the chain at a time.

        A checkpoint is due every ``checkpoint_every`` entries, or when the newest signed entry
        is ``SIGN_WITHIN`` old: the unsigned tail, which only the chain protects, stays small
        in time as well as in number (the scheduler signs an idle tail, server/jobs)."""
        signed: SignedClaim | None = None
        with self.engine.connect() as connection:
            head = lock_head(connection)
            entry = _insert_entry(connection, head, fields, at or utcnow())
            if self._checkpoint_due(connection, head, entry):
                signed = self._checkpoint_if_possible(connection, entry)
            connection.commit()
        self._anchor(signed)
        return entry

    def _checkpoint_due(self, connection: Connection, head: Head, entry: Appended) -> bool:
        if entry.seq - head.checkpoint_seq >= self.settings.checkpoint_every:
            return True
        signed_at = connection.scalar(
            select(OplogEntry.at).where(OplogEntry.seq == head.checkpoint_seq)
        )
        # No signed entry left (a new or purged log): the entry's own time starts the clock.
        return signed_at is not None and entry.at - signed_at >= SIGN_WITHIN

    def _checkpoint_if_possible(
        self, connection: Connection, entry: Appended
    ) -> SignedClaim | None:
        try:
            key = self.signing_key()
        except (SigningKeyError, OSError) as exc:
            # The entry matters more than its signature: keep it, and sign at the next append
            # (the head still says the checkpoint is due).
            logger.error("operation log checkpoint at seq %s not signed: %s", entry.seq, exc)
            return None
        return _insert_checkpoint(connection, key, entry, "periodic", current_anchor(connection))

    def _anchor(self, signed: SignedClaim | None) -> None:
        """Append a committed checkpoint to the anchor file. A failure is logged, not raised:
        the entry is stored and signed; verify reports an anchor file that falls behind."""
        if signed is None:
            return
        try:
            append_anchors(self.data_dir, [signed])
        except OSError as exc:
            logger.error("operation log checkpoint %s not anchored: %s", signed.claim.seq, exc)

    def checkpoint(self, kind: str = "manual") -> Appended | None:
        """Sign the current head now (e.g. before a backup); None for an empty log."""
        key = self.signing_key()
        with self.engine.connect() as connection:
            head = lock_head(connection)
            if head.seq == 0:
                connection.rollback()
                return None
            at = connection.scalar(select(OplogEntry.at).where(OplogEntry.seq == head.seq))
            entry = Appended(head.seq, head.hash, at or utcnow())
            signed = _insert_checkpoint(connection, key, entry, kind, current_anchor(connection))
            connection.commit()
        self._anchor(signed)
        return entry

    def sign_tail(self) -> Appended | None:
        """Sign the head if entries after the newest checkpoint wait unsigned (the scheduler's
        job every minute, so an idle log's tail is signed too); None when nothing waits."""
        with self.engine.connect() as connection:
            head = read_head(connection)
        if head is None or head.seq == 0 or head.seq <= head.checkpoint_seq:
            return None
        return self.checkpoint("periodic")

    def purge(self, fields: EntryFields, now: datetime.datetime | None = None) -> PurgeResult:
        """Delete the entries older than the retention period, keeping the rest verifiable.

        In one transaction: append the purge's own entry (``fields`` say who purged, from
        where), sign a checkpoint whose anchor is the last purged entry's hash (verification
        starts there), then delete the entries up to the anchor and the checkpoints that only
        signed them. A purge that finds nothing old enough is logged all the same (A3)."""
        key = self.signing_key()  # before any change: without the key, nothing is deleted
        moment = now or utcnow()
        cutoff = moment - datetime.timedelta(days=self.settings.retention_days)
        with self.engine.connect() as connection:
            head = lock_head(connection)
            anchor_seq, anchor_hash = current_anchor(connection)
            through = connection.scalar(
                select(func.max(OplogEntry.seq)).where(OplogEntry.at < cutoff)
            )
            if through is not None and through > anchor_seq:
                found = connection.scalar(select(OplogEntry.hash).where(OplogEntry.seq == through))
                if found is None:  # cannot happen: the max() just named it, under the lock
                    raise OplogError(f"entry {through} vanished during the purge")
                anchor_seq, anchor_hash = through, found
            purged = connection.execute(
                delete(OplogEntry).where(OplogEntry.seq <= anchor_seq)
            ).rowcount
            # Checkpoints of purged entries can no longer be compared with anything.
            connection.execute(delete(OplogCheckpoint).where(OplogCheckpoint.seq <= anchor_seq))
            details = {
                "cutoff": cutoff.isoformat(timespec="seconds"),
                "retention_days": self.settings.retention_days,
                "through_seq": anchor_seq,
                "purged": purged,
            }
            entry = _insert_entry(
                connection,
                head,
                EntryFields.make(
                    PURGE_ACTION,
                    actor=fields.actor,
                    role=fields.role,
                    target=f"seq<={anchor_seq}",
                    client_address=fields.client_address,
                    client_port=fields.client_port,
                    details=details,
                ),
                moment,
            )
            signed = _insert_checkpoint(connection, key, entry, "purge", (anchor_seq, anchor_hash))
            connection.commit()
        self._anchor(signed)
        return PurgeResult(purged=purged, through_seq=anchor_seq, cutoff=cutoff, entry=entry)


def read_page(session: Session, after: int, limit: int) -> Sequence[OplogEntry]:
    """Entries with a sequence number above ``after``, oldest first."""
    query = select(OplogEntry).where(OplogEntry.seq > after).order_by(OplogEntry.seq)
    return list(session.scalars(query.limit(limit)))


def latest_checkpoint(session: Session) -> OplogCheckpoint | None:
    query = select(OplogCheckpoint).order_by(OplogCheckpoint.seq.desc(), OplogCheckpoint.id.desc())
    return session.scalars(query.limit(1)).first()
