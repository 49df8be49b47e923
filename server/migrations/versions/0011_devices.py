"""devices: the agentless device inventory (issue 5)

Revision ID: 0011_devices
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_devices"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("key_user", sa.String(length=64), nullable=False),
        sa.Column("authorised_by", sa.String(length=64), nullable=False),
        sa.Column("authorisation", sa.Text(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(), nullable=True),
        sa.Column("last_outcome", sa.String(length=32), nullable=True),
        sa.Column("last_message", sa.Text(), nullable=False),
        sa.Column("last_attempts", sa.Integer(), nullable=False),
        sa.Column("auth_methods", Json, nullable=True),
        sa.Column("host_key", sa.String(length=200), nullable=True),
        sa.Column("org_key_accepted", sa.Boolean(), nullable=True),
        sa.Column("credential_user", sa.String(length=64), nullable=True),
        sa.Column("credential_secret", sa.Text(), nullable=True),
        sa.Column("credential_found_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("agent_id"),
    )
    op.create_index("ix_devices_due", "devices", ["due_at"])


def downgrade() -> None:
    op.drop_index("ix_devices_due", table_name="devices")
    op.drop_table("devices")
