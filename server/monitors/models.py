"""The page monitor tables (migration 0009_monitors), on the shared ``Base``.

* ``monitors``: what to fetch and judge, who fetches it (``agent_id``: an enrolled agent for
  an internal-only site, migration 0014; null: the server), the flap state
  (``up``/``pending``/``down``) with its counters, the claim that keeps two server processes
  from probing one page at once (``next_due_at`` and ``claimed_until``, changed by
  conditional UPDATE), the last result, and
  the latest page that differed from the baseline (the candidate a person may accept).
* ``monitor_baselines``: one per monitor, the accepted page (normalised text, its hash, title
  and external domains).
* ``monitor_proposals``: two-person acceptance of a changed page (POLICY.md E9).
* ``monitor_results``: raw results, kept ``monitor_raw_retention_days``.
* ``monitor_aggregates``: hourly and daily roll-ups, kept a year.
* ``monitor_jobs``: one row per job run that must happen once across processes (an hour's
  roll-up, a day's digest, a purge): claimed by INSERT on its unique name.
* ``defacement_words``: the editable list a tampered page is searched for.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base, BigId, Json

STATES = ("up", "pending", "down")
ALERT_KINDS = ("down", "slow", "cert", "tamper")
URL_LENGTH = 2000
TEXT_LIMIT = 200_000  # characters of normalised page text kept for a baseline or candidate


class Monitor(Base):
    __tablename__ = "monitors"
    __table_args__ = (Index("ix_monitors_due", "enabled", "next_due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    url: Mapped[str] = mapped_column(String(URL_LENGTH))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    accepted_statuses: Mapped[str] = mapped_column(String(200), default="200-299")
    keyword: Mapped[str] = mapped_column(String(500), default="")
    absent_keyword: Mapped[str] = mapped_column(String(500), default="")
    max_ms: Mapped[int | None] = mapped_column(Integer)
    follow_redirects: Mapped[bool] = mapped_column(Boolean, default=True)
    max_redirects: Mapped[int] = mapped_column(Integer, default=5)
    ca_file: Mapped[str] = mapped_column(String(1000), default="")
    cert_warn_days: Mapped[int] = mapped_column(Integer, default=14)
    fail_threshold: Mapped[int] = mapped_column(Integer, default=3)
    success_threshold: Mapped[int] = mapped_column(Integer, default=2)
    reminder_seconds: Mapped[int] = mapped_column(Integer, default=3600)
    tamper_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    similarity_percent: Mapped[int] = mapped_column(Integer, default=80)
    volatile_selectors: Mapped[list[str]] = mapped_column(Json, default=list)
    volatile_patterns: Mapped[list[str]] = mapped_column(Json, default=list)
    maintenance_start: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    maintenance_end: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    # The enrolled agent that fetches this page (an internal-only site); None: the server does.
    # No foreign key: adding one on SQLite rebuilds the table, and dropping the old table with
    # foreign keys enforced would cascade to the results and baselines. Every write checks
    # that the agent exists and is not revoked; agents are revoked, never deleted.
    agent_id: Mapped[str | None] = mapped_column(String(36), index=True)
    # The schedule and its claim.
    next_due_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # The flap state machine.
    state: Mapped[str] = mapped_column(String(16), default="pending")
    failures: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    slow_streak: Mapped[int] = mapped_column(Integer, default=0)
    fast_streak: Mapped[int] = mapped_column(Integer, default=0)
    slow_active: Mapped[bool] = mapped_column(Boolean, default=False)
    state_since: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_reminder_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # Comma separated alert kinds this monitor has open (so a quiet probe resolves nothing).
    alerting: Mapped[str] = mapped_column(String(64), default="")
    last_checked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_result: Mapped[dict[str, Any] | None] = mapped_column(Json)
    # The latest page that differed from the baseline.
    candidate_hash: Mapped[str | None] = mapped_column(String(64))
    candidate_text: Mapped[str | None] = mapped_column(Text)
    candidate_title: Mapped[str | None] = mapped_column(String(500))
    candidate_domains: Mapped[list[str] | None] = mapped_column(Json)
    candidate_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class MonitorBaseline(Base):
    __tablename__ = "monitor_baselines"

    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), primary_key=True
    )
    text_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(500), default="")
    domains: Mapped[list[str]] = mapped_column(Json, default=list)
    taken_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    # Who made it the baseline: the creator, or "proposer + approver" (E9).
    accepted_by: Mapped[str] = mapped_column(String(200), default="")


class MonitorProposal(Base):
    __tablename__ = "monitor_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(
        ForeignKey("monitors.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected | superseded
    proposed_by: Mapped[str] = mapped_column(String(64))
    proposed_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    note: Mapped[str] = mapped_column(String(1000), default="")
    text_hash: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(String(500), default="")
    domains: Mapped[list[str]] = mapped_column(Json, default=list)
    diff: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class MonitorResult(Base):
    __tablename__ = "monitor_results"
    __table_args__ = (Index("ix_monitor_results_monitor_at", "monitor_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    at: Mapped[datetime.datetime] = mapped_column(DateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    ms: Mapped[int | None] = mapped_column(Integer)
    # Short words for what was wrong: "status 404", "keyword missing", "tamper", ...
    problems: Mapped[str] = mapped_column(String(500), default="")


class MonitorAggregate(Base):
    __tablename__ = "monitor_aggregates"
    __table_args__ = (
        UniqueConstraint("monitor_id", "period", "start", name="uq_monitor_aggregates"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    monitor_id: Mapped[int] = mapped_column(ForeignKey("monitors.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(String(8))  # hour | day
    start: Mapped[datetime.datetime] = mapped_column(DateTime)
    probes: Mapped[int] = mapped_column(Integer)
    ups: Mapped[int] = mapped_column(Integer)
    ms_total: Mapped[int] = mapped_column(BigId)
    ms_max: Mapped[int] = mapped_column(Integer)


class MonitorJob(Base):
    __tablename__ = "monitor_jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    done_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(500), default="")


class DefacementWord(Base):
    __tablename__ = "defacement_words"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    word: Mapped[str] = mapped_column(String(100), unique=True)
    added_by: Mapped[str] = mapped_column(String(64), default="")
    added_at: Mapped[datetime.datetime] = mapped_column(DateTime)
