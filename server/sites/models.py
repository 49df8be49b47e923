"""The site health tables (migration 0018_site_health), on the shared ``Base``.

* ``sites``: what to crawl (a start URL, the hosts beside it, the bounds and the pace), when
  (``crawl_at``, local time in the digest's zone, daily), the claim that keeps two server
  processes from crawling one site at once (``next_due_at``, ``claimed_until``, changed by
  conditional UPDATE), and ``crawl_requested`` for "crawl now".
* ``site_crawls``: one per crawl, with its counts; the newest ``KEEP_CRAWLS`` per site are kept.
* ``site_pages``: the pages a crawl fetched (status, time, size, title), for "new" and "gone".
* ``site_findings``: what a crawl found, one row per place (a broken link on each page that
  carries it, with the link's text).
* ``site_issues``: each broken link of a site across crawls: when first and last found, and
  when a crawl found it fixed (``resolved_at``).
"""

from __future__ import annotations

import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, BigId, Json

URL_LENGTH = 2000
KEEP_CRAWLS = 30
FINDING_KINDS = (
    "broken",
    "redirect_loop",
    "refused",
    "mixed_content",
    "defacement",
    "too_large",
    "new_page",
    "gone_page",
)
CRAWL_STATES = ("running", "done", "failed", "stopped")


class Site(Base):
    __tablename__ = "sites"
    __table_args__ = (Index("ix_sites_due", "enabled", "next_due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    start_url: Mapped[str] = mapped_column(String(URL_LENGTH))
    # The page monitor whose URL this site starts from, if it was made from one.
    monitor_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitors.id", ondelete="SET NULL"), index=True
    )
    extra_hosts: Mapped[list[str]] = mapped_column(Json, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    crawl_at: Mapped[str] = mapped_column(String(5), default="02:30")
    max_depth: Mapped[int] = mapped_column(Integer, default=10)
    max_pages: Mapped[int] = mapped_column(Integer, default=2000)
    max_bytes: Mapped[int] = mapped_column(BigId, default=512 * 1024 * 1024)
    rate: Mapped[float] = mapped_column(Float, default=2.0)
    concurrency: Mapped[int] = mapped_column(Integer, default=2)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    max_redirects: Mapped[int] = mapped_column(Integer, default=5)
    robots: Mapped[bool] = mapped_column(Boolean, default=True)
    ca_file: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    next_due_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    crawl_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_crawl_id: Mapped[int | None] = mapped_column(Integer)


class SiteCrawl(Base):
    __tablename__ = "site_crawls"
    __table_args__ = (Index("ix_site_crawls_site_started", "site_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    links: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    bytes_read: Mapped[int] = mapped_column(BigId, default=0)
    broken: Mapped[int] = mapped_column(Integer, default=0)  # distinct broken links
    new_broken: Mapped[int] = mapped_column(Integer, default=0)
    fixed: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[int] = mapped_column(Integer, default=0)
    limits: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str] = mapped_column(String(500), default="")


class SitePage(Base):
    __tablename__ = "site_pages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    crawl_id: Mapped[int] = mapped_column(
        ForeignKey("site_crawls.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    depth: Mapped[int] = mapped_column(Integer)
    status: Mapped[int | None] = mapped_column(Integer)
    ms: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigId)
    title: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str] = mapped_column(String(300), default="")
    html: Mapped[bool] = mapped_column(Boolean, default=False)


class SiteFinding(Base):
    __tablename__ = "site_findings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    crawl_id: Mapped[int] = mapped_column(
        ForeignKey("site_crawls.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    page_url: Mapped[str] = mapped_column(String(URL_LENGTH), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(String(200), default="")


class SiteIssue(Base):
    __tablename__ = "site_issues"
    __table_args__ = (UniqueConstraint("site_id", "url", name="uq_site_issues"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    reason: Mapped[str] = mapped_column(String(200), default="")
    first_seen_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    # Set when a crawl found it working again; found broken later, it opens anew.
    resolved_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
