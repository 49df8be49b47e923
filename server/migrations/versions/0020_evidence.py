"""evidence_snapshots: evidence archives uploaded by agents (docs/incidents.md, "Evidence")

Revision ID: 0020_evidence
Revises: 0021_incidents
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020_evidence"
down_revision = "0021_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_snapshots",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "agent_id",
            sa.String(36),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("taken_at", sa.String(32), nullable=True),
        sa.Column("hostname", sa.String(500), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=True),
        sa.Column(
            "manifest",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_evidence_snapshots_agent_started", "evidence_snapshots", ["agent_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_evidence_snapshots_agent_started", table_name="evidence_snapshots")
    op.drop_table("evidence_snapshots")
