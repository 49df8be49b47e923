"""host_isolation and commands.payload: host isolation (POLICY.md I1, docs/incidents.md)

Revision ID: 0019_isolation
Revises: 0020_evidence
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019_isolation"
down_revision = "0020_evidence"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("commands") as batch:
        batch.add_column(sa.Column("payload", JSON, nullable=True))
    op.create_table(
        "host_isolation",
        sa.Column(
            "agent_id",
            sa.String(36),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("wanted", sa.String(16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("reported_state", sa.String(20), nullable=True),
        sa.Column("reported_generation", sa.Integer(), nullable=True),
        sa.Column("reported_at", sa.DateTime(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=True),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("released_by", sa.String(64), nullable=False),
        sa.Column("release_reason", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("host_isolation")
    with op.batch_alter_table("commands") as batch:
        batch.drop_column("payload")
