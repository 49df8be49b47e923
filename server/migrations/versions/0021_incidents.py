"""incidents: records tying alerts, host, notes and a timeline; their escalation (I1, I2)

Revision ID: 0021_incidents
Revises: 0017_seen_signatures
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0021_incidents"
down_revision = "0017_seen_signatures"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="SET NULL"),
    )
    op.create_index("ix_incidents_agent_id", "incidents", ["agent_id"])
    op.create_index("ix_incidents_closed_at", "incidents", ["closed_at"])
    op.create_table(
        "incident_alerts",
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("alert_id", BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "alert_id"),
        sa.UniqueConstraint("alert_id"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_incident_events_incident", "incident_events", ["incident_id", "id"])
    op.create_table(
        "incident_notifications",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("incident_id", BIG_ID, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.UniqueConstraint("incident_id", "channel", name="uq_incident_notifications"),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], ondelete="CASCADE"),
    )
    op.create_index(
        "ix_incident_notifications_due", "incident_notifications", ["status", "next_attempt_at"]
    )


def downgrade() -> None:
    op.drop_table("incident_notifications")
    op.drop_table("incident_events")
    op.drop_table("incident_alerts")
    op.drop_table("incidents")
