"""latest_results: the console's per-check index holds failures only

Revision ID: 0024_failing_index
Revises: 0023_result_state
Create Date: 2026-12-07

``ix_latest_results_status_check (status, check_id, agent_id)`` put every latest result of a
host in the region of its check: a host's first report (40 results) wrote 40 entries in 40
places of the index, about half of the pages SQLite wrote for it (docs/PERFORMANCE.md, "Report
intake"). The console reads it for failures only (the failing-check filter, the checks list,
a check's failing hosts), so it becomes a partial index of failing results,
``ix_latest_results_failing (check_id, agent_id) WHERE status = 'fail'``. A check's counts per
status (the check page) read each host's result by the primary key instead
(server/fleet/store.py ``hosts_per_status_and_platform``). The queries say ``'fail'`` as a
literal (server/fleet/store.py ``_failing``): with a bound parameter SQLite tests each row's
status in the table, and PostgreSQL's generic plans cannot use a partial index.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_failing_index"
down_revision = "0023_result_state"
branch_labels = None
depends_on = None

FAILING = sa.text("status = 'fail'")


def upgrade() -> None:
    op.drop_index("ix_latest_results_status_check", table_name="latest_results")
    op.create_index(
        "ix_latest_results_failing",
        "latest_results",
        ["check_id", "agent_id"],
        sqlite_where=FAILING,
        postgresql_where=FAILING,
    )


def downgrade() -> None:
    op.drop_index("ix_latest_results_failing", table_name="latest_results")
    op.create_index(
        "ix_latest_results_status_check", "latest_results", ["status", "check_id", "agent_id"]
    )
