"""The fleet pages' tables, and the indexes their queries need on the core tables.

They share the ``Base`` of ``server/store/base.py`` (migration 0006_fleet; migrations are
compared against the models in tests).

``fleet_compliance_daily`` keeps one row per day (in ``console_timezone``) and group: the
compliance counts of that day, so the dashboard can draw weeks of history without reading
the ``results`` history.
``fleet_snapshot_days`` is the claim: the process whose INSERT of the day's row wins takes the
day's snapshot, in the same transaction, so two server processes never take it twice and a
crash leaves no half-written day.
"""

from __future__ import annotations

import datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from server.store.base import Base
from server.store.models import Agent, LatestResult


class ComplianceDaily(Base):
    __tablename__ = "fleet_compliance_daily"

    day: Mapped[datetime.date] = mapped_column(Date, primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    hosts: Mapped[int] = mapped_column(Integer)  # not revoked, in the group that day
    passed: Mapped[int] = mapped_column(Integer)  # (host, check) pairs that passed
    failed: Mapped[int] = mapped_column(Integer)  # (host, check) pairs with a failure
    taken_at: Mapped[datetime.datetime] = mapped_column(DateTime)


class SnapshotDay(Base):
    __tablename__ = "fleet_snapshot_days"

    day: Mapped[datetime.date] = mapped_column(Date, primary_key=True)
    taken_at: Mapped[datetime.datetime] = mapped_column(DateTime)
    taken_by: Mapped[str] = mapped_column(String(64))


# The condition of the failing-results index. The fleet queries say it with the literal
# (server/fleet/store.py ``_failing``): with a bound parameter SQLite reads each row's status
# from the table and PostgreSQL's generic plans cannot use a partial index at all.
FAILING_SQL = "status = 'fail'"

# Indexes on the core tables, for the fleet pages at 10,000 hosts (docs/PERFORMANCE.md):
# the failing-check filter and the checks page read failing latest results by check; the
# hosts list pages by name, in a group or not. (A host's operation log is found by its target:
# that index is declared with its table in server/oplog/models.py.) The failing index is
# partial (migration 0024): a host's first report puts its failures in it, not its 40 results
# in 40 places of the index, which was half of what SQLite wrote for that report.
Index(
    "ix_latest_results_failing",
    LatestResult.check_id,
    LatestResult.agent_id,
    sqlite_where=text(FAILING_SQL),
    postgresql_where=text(FAILING_SQL),
)
Index("ix_agents_hostname_id", Agent.hostname, Agent.id)
Index("ix_agents_group_hostname", Agent.group_id, Agent.hostname, Agent.id)
