"""The fleet pages' tables, and the indexes their queries need on the core tables.

They share the ``Base`` of ``server/store/models.py`` (migration 0006_fleet; migrations are
compared against the models in tests).

``fleet_compliance_daily`` keeps one row per UTC day and group: the compliance counts of that
day, so the dashboard can draw weeks of history without reading the ``results`` history.
``fleet_snapshot_days`` is the claim: the process whose INSERT of the day's row wins takes the
day's snapshot, in the same transaction, so two server processes never take it twice and a
crash leaves no half-written day.
"""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Table, event
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Agent, Base, LatestResult


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


# Indexes on the core tables, for the fleet pages at 10,000 hosts (docs/PERFORMANCE.md):
# the failing-check filter, the checks page and the compliance score read latest results by
# status and check; the hosts list pages by name, in a group or not; a host's operation log
# is found by its target ("agent:<id>", "host:<id>").
Index(
    "ix_latest_results_status_check",
    LatestResult.status,
    LatestResult.check_id,
    LatestResult.agent_id,
)
Index("ix_agents_hostname_id", Agent.hostname, Agent.id)
Index("ix_agents_group_hostname", Agent.group_id, Agent.hostname, Agent.id)


def _index_oplog_target(table: Table) -> None:
    Index("ix_oplog_entries_target", table.c.target)


# server/oplog/models.py may be half imported when this module runs (it imports the store's
# models, which import this): index its table now if it exists, else when it is mapped.
if "oplog_entries" in Base.metadata.tables:
    _index_oplog_target(Base.metadata.tables["oplog_entries"])
else:

    @event.listens_for(Base, "instrument_class", propagate=True)
    def _on_mapped(_mapper: Any, cls: type) -> None:
        if getattr(cls, "__tablename__", None) == "oplog_entries":
            _index_oplog_target(cls.__table__)  # type: ignore[attr-defined]
