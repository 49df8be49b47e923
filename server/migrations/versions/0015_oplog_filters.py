"""operation log: indexes for the console's actor and address filters

Without them a filter on a rare actor or client address read back through the whole log
(bench/oplog_pages.py: 123 ms of SQLite CPU per page at 300,000 entries, linear in the log).
With ``seq`` second, the newest page of one actor is an index range read in ``seq`` order.

Revision ID: 0015_oplog_filters
Revises: 0014_agent_monitors
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0015_oplog_filters"
down_revision = "0014_agent_monitors"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_oplog_entries_actor_seq", "oplog_entries", ["actor", "seq"])
    op.create_index("ix_oplog_entries_address_seq", "oplog_entries", ["client_address", "seq"])


def downgrade() -> None:
    op.drop_index("ix_oplog_entries_address_seq", table_name="oplog_entries")
    op.drop_index("ix_oplog_entries_actor_seq", table_name="oplog_entries")
