"""site health: whole sites crawled for broken links (POLICY.md E13)

Revision ID: 0018_site_health
Revises: 0019_isolation
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018_site_health"
down_revision = "0019_isolation"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
URL = 2000


def upgrade() -> None:
    op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("start_url", sa.String(URL), nullable=False),
        sa.Column(
            "monitor_id",
            sa.Integer(),
            sa.ForeignKey("monitors.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("extra_hosts", JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("crawl_at", sa.String(5), nullable=False),
        sa.Column("max_depth", sa.Integer(), nullable=False),
        sa.Column("max_pages", sa.Integer(), nullable=False),
        sa.Column("max_bytes", BIG_ID, nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("max_redirects", sa.Integer(), nullable=False),
        sa.Column("robots", sa.Boolean(), nullable=False),
        sa.Column("ca_file", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("next_due_at", sa.DateTime(), nullable=False),
        sa.Column("crawl_requested", sa.Boolean(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_crawl_id", sa.Integer(), nullable=True),
    )
    op.create_index("ix_sites_due", "sites", ["enabled", "next_due_at"])
    op.create_index("ix_sites_monitor_id", "sites", ["monitor_id"])
    op.create_table(
        "site_crawls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("bytes_read", BIG_ID, nullable=False),
        sa.Column("broken", sa.Integer(), nullable=False),
        sa.Column("new_broken", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.Column("limits", sa.String(500), nullable=False),
        sa.Column("error", sa.String(500), nullable=False),
    )
    op.create_index("ix_site_crawls_site_started", "site_crawls", ["site_id", "started_at"])
    op.create_table(
        "site_pages",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "crawl_id",
            sa.Integer(),
            sa.ForeignKey("site_crawls.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("url", sa.String(URL), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("ms", sa.Integer(), nullable=False),
        sa.Column("size", BIG_ID, nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("error", sa.String(300), nullable=False),
        sa.Column("html", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_site_pages_crawl_id", "site_pages", ["crawl_id"])
    op.create_table(
        "site_findings",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "crawl_id",
            sa.Integer(),
            sa.ForeignKey("site_crawls.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.String(URL), nullable=False),
        sa.Column("page_url", sa.String(URL), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("text", sa.String(200), nullable=False),
    )
    op.create_index("ix_site_findings_crawl_id", "site_findings", ["crawl_id"])
    op.create_table(
        "site_issues",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "site_id", sa.Integer(), sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("url", sa.String(URL), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("site_id", "url", name="uq_site_issues"),
    )


def downgrade() -> None:
    op.drop_table("site_issues")
    op.drop_index("ix_site_findings_crawl_id", table_name="site_findings")
    op.drop_table("site_findings")
    op.drop_index("ix_site_pages_crawl_id", table_name="site_pages")
    op.drop_table("site_pages")
    op.drop_index("ix_site_crawls_site_started", table_name="site_crawls")
    op.drop_table("site_crawls")
    op.drop_index("ix_sites_monitor_id", table_name="sites")
    op.drop_index("ix_sites_due", table_name="sites")
    op.drop_table("sites")
