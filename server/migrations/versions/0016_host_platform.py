"""host platform: agents.os_version and agents.os_build; host_baselines.account_sids

A scan report now says what system the scanned host runs (``Report.platform``: name, OS,
version, build; an agent on Linux may scan a mounted Windows volume), and intake keeps it on
the agent's row. A Windows host's account baseline is kept by SID (names are translated and
renamed), apart from the Linux account names.

Plain ALTER TABLE ADD COLUMN on both databases (the NOT NULL columns with a default ''), so
SQLite rebuilds no table: a rebuild would drop ``agents`` and, with foreign keys enforced,
cascade to every report of every host.

Revision ID: 0016_host_platform
Revises: 0015_oplog_filters
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_host_platform"
down_revision = "0015_oplog_filters"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.add_column(
        "agents",
        sa.Column("os_version", sa.String(length=64), nullable=False, server_default=""),
    )
    op.add_column(
        "agents", sa.Column("os_build", sa.String(length=64), nullable=False, server_default="")
    )
    op.add_column("host_baselines", sa.Column("account_sids", JSON, nullable=True))


def downgrade() -> None:
    for table, column in (
        ("host_baselines", "account_sids"),
        ("agents", "os_build"),
        ("agents", "os_version"),
    ):
        if op.get_bind().dialect.name == "sqlite":
            # SQLite 3.35+ drops an unindexed column in place; batch mode would rebuild the table.
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        else:
            op.drop_column(table, column)
