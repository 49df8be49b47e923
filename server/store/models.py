"""The store's tables (users, tokens, groups, agents, reports and results, inventory, commands,
gaps, sessions, baselines, host isolation), as SQLAlchemy 2 typed models. The same code runs on
SQLite and PostgreSQL; Alembic migrations in ``server/migrations`` create and change it. Each
feature's tables live in its own ``models.py`` on the same ``Base`` (``server/store/base.py``);
``server/migrations/all_models.py`` gathers them all for Alembic.

Times are naive UTC everywhere (``utcnow()``): SQLite has no time zone type, and one convention
for both databases keeps comparisons right.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
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

ROLES = ("admin", "operator", "auditor")


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


# The platform of a network device's row in ``agents`` (server/devices): it sends no heartbeats,
# so it is never "online" the way an agent is.
DEVICE_PLATFORM = "device"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    password_changed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # Set by an admin in the console (server/settings): no login, no session, no API token.
    disabled_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # {"checks": {id: {"enabled": bool, "params": {...}}}, "approved": {"users": [...], ...}}
    policy: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    policy_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class EnrollmentToken(Base):
    __tablename__ = "enrollment_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"))
    uses_left: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    # Revoked in the console: uses_left is set to 0 too, so enrollment refuses it as used up.
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class Agent(Base):
    __tablename__ = "agents"

    # A UUID chosen by the server at enrollment: the agent's only identity. The hostname the
    # agent reports is a label and never identifies it.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(255), index=True)
    os: Mapped[str] = mapped_column(String(255), default="")
    # What the host runs: first as the agent said at enrollment, then as its newest scan report
    # says (``Report.platform``, server/intake/report.py). With ``scan_root`` an agent on Linux
    # scans a mounted Windows volume, and the host is then Windows. ``device`` marks a network
    # device's row (server/devices) and is never overwritten.
    platform: Mapped[str] = mapped_column(String(32))
    os_version: Mapped[str] = mapped_column(String(64), default="", server_default="")
    os_build: Mapped[str] = mapped_column(String(64), default="", server_default="")
    agent_version: Mapped[str] = mapped_column(String(32), default="")
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    enrollment_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrollment_tokens.id", ondelete="SET NULL")
    )
    enrolled_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # From the latest heartbeat, for the console.
    spool_depth: Mapped[int | None] = mapped_column(Integer)
    last_epoch: Mapped[int | None] = mapped_column(BigInteger)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    policy_version: Mapped[int | None] = mapped_column(Integer)
    # The newest full scan taken into the host's result states (server/intake/report.py): its
    # digest (server/store/states.py) and observed time. A full scan with the same digest that
    # is not older changes nothing but these times: no result row is written for it.
    scan_digest: Mapped[str | None] = mapped_column(String(32))
    scan_observed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class Report(Base):
    __tablename__ = "reports"
    # The at-least-once spool retries a report until it is confirmed; this constraint is what
    # makes a retry land once, even when two server processes receive it at the same moment.
    __table_args__ = (
        UniqueConstraint("agent_id", "epoch", "seq", name="uq_reports_agent_seq"),
        # A host's full scans by time: the weekly report counts how often each state was seen.
        Index("ix_reports_agent_created", "agent_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)
    received_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    policy_version: Mapped[int | None] = mapped_column(Integer)
    result_count: Mapped[int] = mapped_column(Integer, default=0)
    # An in-order full scan: it counts once for every state of its host open at its time
    # (ResultState). False for reports without results, other kinds, and late arrivals.
    in_states: Mapped[bool] = mapped_column(Boolean, default=False)


class ResultState(Base):
    """The history of results: one row per value a (host, check, resource) had, not one per
    report (issue 15). A state opens with the full scan that first reported the value
    (``observed_at``, that report's ``created_at``) and ends at the first later full scan that
    reported another value or none (``ended_at``); an open state has ``ended_at`` NULL.

    How often a state was seen is not stored: it is the number of the host's counted reports
    (``Report.in_states``) in ``[observed_at, ended_at)``, which the weekly report reads. A
    report that is not an in-order full scan (one that waited in a spool while newer scans
    landed, or one that carries only some results) keeps its results as rows of their own,
    ``apart``, each seen once at its ``observed_at`` (``ended_at`` equal to it)."""

    __tablename__ = "result_states"
    __table_args__ = (
        Index("ix_result_states_agent_open", "agent_id", "ended_at"),
        Index("ix_result_states_key", "agent_id", "check_id", "resource", "observed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # No foreign key, as LatestResult.agent_id (migration 0025): the writer stores a state only
    # after the report's own row, whose foreign key holds the host; deleting a host deletes
    # its states itself (server/store/agents.py ``delete_agent``).
    agent_id: Mapped[str] = mapped_column(String(36))
    check_id: Mapped[str] = mapped_column(String(128))
    resource: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(Json)
    severity: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[str]] = mapped_column(Json)
    # The sentence as {"id", "params"} when the agent sent a message id (rendered in the
    # reader's language; checks/messages.py), else NULL. Part of the value (``digest``).
    said: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    digest: Mapped[str] = mapped_column(String(32))  # server/store/states.py value_digest
    # The report that opened it; no foreign key: the report may be purged while the state
    # is still open (retention, server/jobs).
    report_id: Mapped[int] = mapped_column(BigInteger)
    observed_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    apart: Mapped[bool] = mapped_column(Boolean, default=False)


class LatestResult(Base):
    """The newest result per (agent, check, resource): what the console and API show."""

    __tablename__ = "latest_results"
    __table_args__ = (Index("ix_latest_results_agent_status", "agent_id", "status"),)

    # No foreign key (migration 0025): a host's first report wrote 40 of these rows and 40
    # states, and PostgreSQL checked the host's row once for each, about a fifth of its CPU
    # for that report (docs/PERFORMANCE.md). The report's row, written first in the same
    # transaction, keeps its foreign key: a host deleted meanwhile makes the report fail
    # there, and server/store/agents.py ``delete_agent`` deletes these rows with the host.
    agent_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    check_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    resource: Mapped[str] = mapped_column(String(200), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(Json)
    severity: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[str]] = mapped_column(Json)
    said: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)  # as ResultState.said
    report_id: Mapped[int] = mapped_column(BigInteger)
    observed_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class Inventory(Base):
    """The newest inventory an agent sent (hostname, OS, kernel, addresses, ...)."""

    __tablename__ = "inventory"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[dict[str, Any]] = mapped_column(Json)
    report_id: Mapped[int] = mapped_column(BigInteger)
    observed_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class Command(Base):
    __tablename__ = "commands"
    __table_args__ = (Index("ix_commands_agent_pending", "agent_id", "acked_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    delivered_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    acked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    # What the command carries besides its type: an isolation command's generation and the
    # server's signature over it (server/isolation/store.py), sent as they are.
    payload: Mapped[dict[str, Any] | None] = mapped_column(Json)


# Per host: what people asked of its isolation and what its agent last reported (POLICY.md I1;
# server/isolation makes the requests and takes the reports, server/store/isolation.py reads
# them for every page that shows a host). In the store because the host, alert and dashboard
# pages of other features show it.
class HostIsolation(Base):
    __tablename__ = "host_isolation"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    wanted: Mapped[str] = mapped_column(String(16))
    generation: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    command_id: Mapped[str | None] = mapped_column(String(36))
    reported_state: Mapped[str | None] = mapped_column(String(20))
    reported_generation: Mapped[int | None] = mapped_column(Integer)
    reported_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    changed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    backend: Mapped[str] = mapped_column(String(32), default="")
    rules: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    released_by: Mapped[str] = mapped_column(String(64), default="")
    release_reason: Mapped[str] = mapped_column(Text, default="")


class Gap(Base):
    """Reports an agent's spool dropped when full: the record says they are missing."""

    __tablename__ = "gaps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(BigInteger)
    from_seq: Mapped[int] = mapped_column(BigInteger)
    to_seq: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class ConsoleSession(Base):
    """A console login. Kept server side so logout and idle expiry really end it."""

    __tablename__ = "console_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)


class LoginFailure(Base):
    """Failed console logins per client address and user name, for a temporary lockout.

    In the database rather than in memory so several server processes share one count."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    locked_until: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class HostBaseline(Base):
    """What a host had when the server first saw it: its accounts and package names. The checks
    accounts.added_since_baseline, accounts.windows_added_since_baseline and software.baseline
    judge against it (POLICY.md E8: accounts
    not added by an administrator, unknown programs). Deleting the row takes a new one."""

    __tablename__ = "host_baselines"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    # None: the agent could not read that list (no privilege); the check then says so.
    accounts: Mapped[list[str] | None] = mapped_column(Json)
    # A Windows host's local accounts by SID (accounts.windows_added_since_baseline): names
    # are translated and can be renamed, SIDs stay, and RIDs only grow.
    account_sids: Mapped[list[str] | None] = mapped_column(Json)
    packages: Mapped[list[str] | None] = mapped_column(Json)
    taken_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class SeenSignature(Base):
    """Signatures of agent requests that must take effect once (heartbeats, monitor outcomes),
    kept for twice the freshness window: a copy replayed within the window finds its row and
    changes nothing (server/intake/agents.py ``first_use``). Reports need none: their
    ``(agent_id, epoch, seq)`` is unique. In the database so every server process shares it."""

    __tablename__ = "seen_signatures"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the header
    agent_id: Mapped[str] = mapped_column(String(36))
    seen_at: Mapped[datetime.datetime] = mapped_column(DateTime, index=True)
