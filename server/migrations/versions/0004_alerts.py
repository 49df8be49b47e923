"""alerts: rows born from state changes, one unresolved alert per subject (open_key)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("check_id", sa.String(length=128), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("open_key", sa.String(length=400), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("open_key"),
    )
    op.create_index("ix_alerts_resolved_at", "alerts", ["resolved_at"])
    op.create_index("ix_alerts_agent_id", "alerts", ["agent_id"])
    op.create_table(
        "alert_comments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("alert_id", BigId, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_comments_alert_id", "alert_comments", ["alert_id"])
    # Results that already fail when this runs have no pass -> fail change left to notice:
    # open their alerts now, or they would stay silent until they pass and fail again.
    op.execute(
        "INSERT INTO alerts (kind, severity, agent_id, check_id, resource, message, open_key, "
        "opened_at) SELECT 'check_failed', severity, agent_id, check_id, resource, message, "
        "'check_failed:' || agent_id || ':' || check_id || ':' || resource, received_at "
        "FROM latest_results WHERE status = 'fail'"
    )


def downgrade() -> None:
    op.drop_index("ix_alert_comments_alert_id", table_name="alert_comments")
    op.drop_table("alert_comments")
    op.drop_index("ix_alerts_agent_id", table_name="alerts")
    op.drop_index("ix_alerts_resolved_at", table_name="alerts")
    op.drop_table("alerts")
