"""monitors run by an agent: monitors.agent_id (null: the server fetches the page)

A nullable column and its index: SQLite adds them with a plain ALTER TABLE, no table rebuild
(a rebuild would drop the old table, and with foreign keys enforced that cascades to the
monitor's results and baselines). There is no foreign key for the same reason; the server
checks the agent on every write (server/monitors/store.py).

Revision ID: 0014_agent_monitors
Revises: 0013_merge_features
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_agent_monitors"
down_revision = "0013_merge_features"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("monitors", sa.Column("agent_id", sa.String(length=36), nullable=True))
    op.create_index("ix_monitors_agent_id", "monitors", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_monitors_agent_id", table_name="monitors")
    if op.get_bind().dialect.name == "sqlite":
        # SQLite 3.35+ drops an unindexed column in place; batch mode would rebuild the table.
        op.execute("ALTER TABLE monitors DROP COLUMN agent_id")
    else:
        op.drop_column("monitors", "agent_id")
