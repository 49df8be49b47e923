"""file events: what the agents' file watchers saw in web roots and upload folders

Revision ID: 0012_file_events
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012_file_events"
down_revision = "0005"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "file_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("report_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("from_path", sa.String(length=1024), nullable=True),
        sa.Column("folder", sa.String(length=1024), nullable=False),
        sa.Column("folder_kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("mtime", sa.DateTime(), nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("summarised_action", sa.String(length=16), nullable=True),
        sa.Column("findings", JSON, nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_file_events_agent_observed", "file_events", ["agent_id", "observed_at"])
    op.create_index("ix_file_events_received", "file_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("file_events")
