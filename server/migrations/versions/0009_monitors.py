"""page monitors: monitors, baselines, two-person proposals, raw results, aggregates, jobs,
defacement words (seeded from server/monitors/defacement_words.txt)

Revision ID: 0009_monitors
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "0009_monitors"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
WORDS = Path(__file__).resolve().parents[2] / "monitors" / "defacement_words.txt"


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("accepted_statuses", sa.String(length=200), nullable=False),
        sa.Column("keyword", sa.String(length=500), nullable=False),
        sa.Column("absent_keyword", sa.String(length=500), nullable=False),
        sa.Column("max_ms", sa.Integer(), nullable=True),
        sa.Column("follow_redirects", sa.Boolean(), nullable=False),
        sa.Column("max_redirects", sa.Integer(), nullable=False),
        sa.Column("ca_file", sa.String(length=1000), nullable=False),
        sa.Column("cert_warn_days", sa.Integer(), nullable=False),
        sa.Column("fail_threshold", sa.Integer(), nullable=False),
        sa.Column("success_threshold", sa.Integer(), nullable=False),
        sa.Column("reminder_seconds", sa.Integer(), nullable=False),
        sa.Column("tamper_enabled", sa.Boolean(), nullable=False),
        sa.Column("similarity_percent", sa.Integer(), nullable=False),
        sa.Column("volatile_selectors", Json, nullable=False),
        sa.Column("volatile_patterns", Json, nullable=False),
        sa.Column("maintenance_start", sa.DateTime(), nullable=True),
        sa.Column("maintenance_end", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("slow_streak", sa.Integer(), nullable=False),
        sa.Column("fast_streak", sa.Integer(), nullable=False),
        sa.Column("slow_active", sa.Boolean(), nullable=False),
        sa.Column("state_since", sa.DateTime(), nullable=True),
        sa.Column("last_reminder_at", sa.DateTime(), nullable=True),
        sa.Column("alerting", sa.String(length=64), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(), nullable=True),
        sa.Column("last_result", Json, nullable=True),
        sa.Column("candidate_hash", sa.String(length=64), nullable=True),
        sa.Column("candidate_text", sa.Text(), nullable=True),
        sa.Column("candidate_title", sa.String(length=500), nullable=True),
        sa.Column("candidate_domains", Json, nullable=True),
        sa.Column("candidate_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitors_due", "monitors", ["enabled", "next_due_at"])
    op.create_table(
        "monitor_baselines",
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("domains", Json, nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("monitor_id"),
    )
    op.create_table(
        "monitor_proposals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("domains", Json, nullable=False),
        sa.Column("diff", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_proposals_monitor_id", "monitor_proposals", ["monitor_id"])
    op.create_table(
        "monitor_results",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("ms", sa.Integer(), nullable=True),
        sa.Column("problems", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_monitor_results_monitor_at", "monitor_results", ["monitor_id", "at"])
    op.create_table(
        "monitor_aggregates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("monitor_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("probes", sa.Integer(), nullable=False),
        sa.Column("ups", sa.Integer(), nullable=False),
        sa.Column("ms_total", BigId, nullable=False),
        sa.Column("ms_max", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["monitor_id"], ["monitors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("monitor_id", "period", "start", name="uq_monitor_aggregates"),
    )
    op.create_table(
        "monitor_jobs",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    words = op.create_table(
        "defacement_words",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("word"),
    )
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    shipped = []
    for line in WORDS.read_text(encoding="utf-8").splitlines():
        word = line.strip().lower()
        if word and not word.startswith("#") and word not in shipped:
            shipped.append(word)
    op.bulk_insert(
        words, [{"word": word, "added_by": "shipped", "added_at": now} for word in shipped]
    )


def downgrade() -> None:
    op.drop_table("defacement_words")
    op.drop_table("monitor_jobs")
    op.drop_table("monitor_aggregates")
    op.drop_index("ix_monitor_results_monitor_at", table_name="monitor_results")
    op.drop_table("monitor_results")
    op.drop_index("ix_monitor_proposals_monitor_id", table_name="monitor_proposals")
    op.drop_table("monitor_proposals")
    op.drop_table("monitor_baselines")
    op.drop_index("ix_monitors_due", table_name="monitors")
    op.drop_table("monitors")
