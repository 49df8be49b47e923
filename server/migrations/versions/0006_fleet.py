"""fleet pages: daily compliance per group, and indexes for the hosts and checks pages

Revision ID: 0006_fleet
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_fleet"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_compliance_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("hosts", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("day", "group_id"),
    )
    op.create_table(
        "fleet_snapshot_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("taken_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index(
        "ix_latest_results_status_check", "latest_results", ["status", "check_id", "agent_id"]
    )
    op.create_index("ix_agents_hostname_id", "agents", ["hostname", "id"])
    op.create_index("ix_agents_group_hostname", "agents", ["group_id", "hostname", "id"])
    op.create_index("ix_oplog_entries_target", "oplog_entries", ["target"])


def downgrade() -> None:
    op.drop_index("ix_oplog_entries_target", table_name="oplog_entries")
    op.drop_index("ix_agents_group_hostname", table_name="agents")
    op.drop_index("ix_agents_hostname_id", table_name="agents")
    op.drop_index("ix_latest_results_status_check", table_name="latest_results")
    op.drop_table("fleet_snapshot_days")
    op.drop_table("fleet_compliance_daily")
