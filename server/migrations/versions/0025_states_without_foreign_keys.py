"""result_states and latest_results: no foreign key to agents

Revision ID: 0025_states_without_foreign_keys
Revises: 0024_failing_index
Create Date: 2026-12-08

A host's first report writes 40 result states and 40 latest results. PostgreSQL checked each
row's foreign key to ``agents`` with a query of its own (a trigger per row): about a fifth of
its CPU for that report, 2.64-2.70 -> 2.18 ms in process (docs/PERFORMANCE.md, "Report intake").
The report's row keeps its foreign key and is written first in the same transaction, so a
report for a host that is gone still fails, and deleting a host (server/store/agents.py
``delete_agent``) deletes these rows itself.

SQLite cannot drop a constraint: Alembic's batch mode copies each table into one without it
(its indexes, the partial one included, are made again). On a large SQLite database the
upgrade takes as long as copying these two tables (docs/operations.md, "Upgrade").
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_states_without_foreign_keys"
down_revision = "0024_failing_index"
branch_labels = None
depends_on = None

TABLES = ("result_states", "latest_results")
# The constraints were created without names: PostgreSQL named them <table>_<column>_fkey,
# SQLite not at all. Batch mode names SQLite's after this convention to find them.
NAMING = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}
FAILING = sa.text("status = 'fail'")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            batch.drop_constraint(f"{table}_agent_id_fkey", type_="foreignkey")
    _partial_index_again()


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch:
            batch.create_foreign_key(
                f"{table}_agent_id_fkey", "agents", ["agent_id"], ["id"], ondelete="CASCADE"
            )
    _partial_index_again()


def _partial_index_again() -> None:
    """SQLite's copy of latest_results may lose the WHERE of its partial index (reflection
    does not keep it in every SQLAlchemy version): make it again as migration 0024 did."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_latest_results_failing", table_name="latest_results")
    op.create_index(
        "ix_latest_results_failing",
        "latest_results",
        ["check_id", "agent_id"],
        sqlite_where=FAILING,
        postgresql_where=FAILING,
    )
