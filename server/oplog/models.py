"""The operation log's tables. They share the ``Base`` of ``server/store/base.py`` so one
metadata describes the whole schema (migrations are compared against it in tests)."""

from __future__ import annotations

import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, BigId

HASH_LENGTH = 64  # hex SHA-256
ACTOR_LENGTH = 128
ROLE_LENGTH = 16
ACTION_LENGTH = 64
TARGET_LENGTH = 200
OUTCOME_LENGTH = 16
REASON_LENGTH = 200
ADDRESS_LENGTH = 64  # an IPv6 address with a zone id fits


class OplogEntry(Base):
    """One event. Rows are only ever inserted (and, past retention, deleted from the oldest end
    by the purge); the sequence number is the primary key, so two appenders can never store the
    same number even if the head lock were bypassed."""

    __tablename__ = "oplog_entries"
    __table_args__ = (
        Index("ix_oplog_entries_at", "at"),
        # The console's actor and address filters page by seq (migration 0015).
        Index("ix_oplog_entries_actor_seq", "actor", "seq"),
        Index("ix_oplog_entries_address_seq", "client_address", "seq"),
        # A host's entries on the fleet's host page are found by their target ("agent:<id>",
        # "host:<id>"; migration 0006_fleet).
        Index("ix_oplog_entries_target", "target"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(ACTOR_LENGTH))
    role: Mapped[str] = mapped_column(String(ROLE_LENGTH))
    action: Mapped[str] = mapped_column(String(ACTION_LENGTH))
    target: Mapped[str] = mapped_column(String(TARGET_LENGTH))
    outcome: Mapped[str] = mapped_column(String(OUTCOME_LENGTH))
    reason: Mapped[str] = mapped_column(String(REASON_LENGTH))
    client_address: Mapped[str] = mapped_column(String(ADDRESS_LENGTH))
    client_port: Mapped[int | None] = mapped_column(Integer)
    # Canonical JSON text, stored as the exact string that was hashed: a JSON column type would
    # let the database re-encode it (JSONB reorders keys), and the hash would no longer match.
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    hash: Mapped[str] = mapped_column(String(HASH_LENGTH))


class OplogHead(Base):
    """The single row (id 1) naming the newest entry. Appenders lock it (SELECT ... FOR UPDATE
    on PostgreSQL, BEGIN IMMEDIATE on SQLite), which serialises appends across processes."""

    __tablename__ = "oplog_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    # The newest signed sequence number; a checkpoint is due when seq runs this far ahead. Kept
    # here (not derived from seq % N) so a checkpoint that failed to sign is retried next time.
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger)


class OplogCheckpoint(Base):
    """A signature over the chain head at ``seq``. A ``purge`` checkpoint also signs the anchor:
    the sequence number and hash of the last purged entry, where verification starts."""

    __tablename__ = "oplog_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    at: Mapped[datetime.datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(16))
    anchor_seq: Mapped[int] = mapped_column(BigInteger)
    anchor_hash: Mapped[str] = mapped_column(String(HASH_LENGTH))
    key_id: Mapped[str] = mapped_column(String(HASH_LENGTH))
    signature: Mapped[str] = mapped_column(String(128))
