"""operation log: chained entries, the head row, signed checkpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

# The column types of server/oplog/models.py, spelled out so this file never changes with them.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# server/oplog/chain.py GENESIS_HASH, computed here too so the migration stands alone.
GENESIS_HASH = hashlib.sha256(b"xunjian operation log genesis").hexdigest()

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oplog_entries",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("client_port", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_oplog_entries_at", "oplog_entries", ["at"])

    head = op.create_table(
        "oplog_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checkpoint_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The one row appenders lock; it exists from the start so no appender has to create it.
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": GENESIS_HASH, "checkpoint_seq": 0}])

    op.create_table(
        "oplog_checkpoints",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_oplog_checkpoints_seq", "oplog_checkpoints", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_oplog_checkpoints_seq", table_name="oplog_checkpoints")
    op.drop_table("oplog_checkpoints")
    op.drop_table("oplog_head")
    op.drop_index("ix_oplog_entries_at", table_name="oplog_entries")
    op.drop_table("oplog_entries")
