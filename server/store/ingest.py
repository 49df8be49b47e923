"""Report intake: one transaction per report, set-based writes only.

The cost per report is fixed and small whatever its size: one INSERT of the report (its id
comes back with RETURNING), one executemany of its results, one multi-row upsert of the latest
results, one upsert of the inventory, one UPDATE of the agent. No per-result query.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from server.store.models import Agent, Gap, Inventory, LatestResult, Report, Result, utcnow

# Kinds that carry every check's current result, so a latest result they no longer mention
# (an account that was deleted, a check the policy turned off) is no longer current.
FULL_SCAN_KINDS = frozenset({"scan"})


@dataclass(frozen=True)
class IngestOutcome:
    stored: bool
    duplicate: bool
    report_id: int | None = None


def _dialect_insert(connection: Connection, table: Any) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _latest_rows(report: dict[str, Any], agent_id: str, report_id: int, now: Any) -> list[dict]:
    # One row per (check_id, resource): PostgreSQL refuses an upsert that touches a row twice,
    # and the last result in a report is the one that counts.
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for result in report["results"]:
        rows[(result["check_id"], result["resource"])] = {
            "agent_id": agent_id,
            "check_id": result["check_id"],
            "resource": result["resource"],
            "status": result["status"],
            "message": result["message"],
            "evidence": result["evidence"],
            "severity": result["severity"],
            "rules": result["rules"],
            "report_id": report_id,
            "observed_at": report["created_at"],
            "received_at": now,
        }
    return list(rows.values())


def _upsert_latest(connection: Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    statement = _dialect_insert(connection, LatestResult).values(rows)
    excluded = statement.excluded
    changing = ("status", "message", "evidence", "severity", "rules", "report_id", "observed_at")
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["agent_id", "check_id", "resource"],
            set_={
                **{name: excluded[name] for name in changing},
                "received_at": excluded.received_at,
            },
            # A report that waited in a spool must not overwrite a newer one that overtook it.
            where=LatestResult.observed_at <= excluded.observed_at,
        )
    )


def _upsert_inventory(
    connection: Connection,
    agent_id: str,
    data: dict[str, Any],
    report_id: int,
    report: dict,
    now: Any,
) -> None:
    statement = _dialect_insert(connection, Inventory).values(
        agent_id=agent_id,
        data=data,
        report_id=report_id,
        observed_at=report["created_at"],
        received_at=now,
    )
    excluded = statement.excluded
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["agent_id"],
            set_={
                "data": excluded.data,
                "report_id": excluded.report_id,
                "observed_at": excluded.observed_at,
                "received_at": excluded.received_at,
            },
            where=Inventory.observed_at <= excluded.observed_at,
        )
    )


def _write(connection: Connection, agent_id: str, report: dict[str, Any], now: Any) -> int:
    report_id = connection.execute(
        insert(Report)
        .values(
            agent_id=agent_id,
            epoch=report["epoch"],
            seq=report["seq"],
            kind=report["kind"],
            created_at=report["created_at"],
            received_at=now,
            policy_version=report["policy_version"],
            result_count=len(report["results"]),
        )
        .returning(Report.id)
    ).scalar_one()
    if report["results"]:
        connection.execute(
            insert(Result),
            [
                {
                    **result,
                    "report_id": report_id,
                    "agent_id": agent_id,
                    "observed_at": report["created_at"],
                }
                for result in report["results"]
            ],
        )
    _upsert_latest(connection, _latest_rows(report, agent_id, report_id, now))
    if report["kind"] in FULL_SCAN_KINDS:
        connection.execute(
            delete(LatestResult).where(
                and_(
                    LatestResult.agent_id == agent_id,
                    LatestResult.observed_at < report["created_at"],
                )
            )
        )
    if report["inventory"] is not None:
        _upsert_inventory(connection, agent_id, report["inventory"], report_id, report, now)
    if report["gaps"]:
        connection.execute(
            insert(Gap),
            [
                {
                    **gap,
                    "agent_id": agent_id,
                    "report_id": report_id,
                    "epoch": report["epoch"],
                    "received_at": now,
                }
                for gap in report["gaps"]
            ],
        )
    connection.execute(update(Agent).where(Agent.id == agent_id).values(last_seen=now))
    return int(report_id)


def ingest_report(engine: Engine, agent_id: str, report: dict[str, Any]) -> IngestOutcome:
    """Store a validated report once. A retry of a stored report changes nothing."""
    now = utcnow()
    try:
        with engine.begin() as connection:
            report_id = _write(connection, agent_id, report, now)
    except IntegrityError:
        # Most likely the unique (agent_id, epoch, seq): another attempt of this report won,
        # perhaps in another process at the same moment. Anything else is a real error.
        if not report_exists(engine, agent_id, report["epoch"], report["seq"]):
            raise
        touch_agent(engine, agent_id, now)
        return IngestOutcome(stored=False, duplicate=True)
    return IngestOutcome(stored=True, duplicate=False, report_id=report_id)


def report_exists(engine: Engine, agent_id: str, epoch: int, seq: int) -> bool:
    with engine.connect() as connection:
        found = connection.execute(
            select(Report.id).where(
                Report.agent_id == agent_id, Report.epoch == epoch, Report.seq == seq
            )
        ).first()
    return found is not None


def touch_agent(engine: Engine, agent_id: str, now: datetime.datetime | None = None) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Agent).where(Agent.id == agent_id).values(last_seen=now or utcnow())
        )
