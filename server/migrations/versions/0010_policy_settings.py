"""policy settings: notification channels and the on-call roster held in the database

Revision ID: 0010_policy_settings
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_policy_settings"
down_revision = "0005"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "notify_settings_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("use_database", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "notify_channel_settings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("min_severity", sa.String(length=16), nullable=False),
        sa.Column("settings", Json, nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "oncall_tier_settings",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("channels", Json, nullable=False),
        sa.Column("people", Json, nullable=False),
        sa.Column("escalate_after_seconds", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("position"),
    )


def downgrade() -> None:
    op.drop_table("oncall_tier_settings")
    op.drop_table("notify_channel_settings")
    op.drop_table("notify_settings_state")
