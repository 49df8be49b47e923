"""results and latest_results: ``said``, a result's sentence as an id and its parameters

Revision ID: 0022_console
Revises: 0018_site_health
Create Date: 2026-12-07

``said`` is ``{"id": ..., "params": {...}}`` when the agent sent a message id (issue 13 item
5): the console renders the sentence in the reader's language; NULL for results that carry
only the English ``message`` (older agents, checks not yet converted).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022_console"
down_revision = "0018_site_health"
branch_labels = None
depends_on = None

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    for table in ("results", "latest_results"):
        op.add_column(table, sa.Column("said", JSON_TYPE, nullable=True))


def downgrade() -> None:
    for table in ("results", "latest_results"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("said")
