"""Report intake: one transaction per report, set-based writes only.

The cost per report is fixed and small whatever its size: one INSERT of the report (its id
comes back with RETURNING), one executemany of its results, one executemany upsert of the latest
results, one upsert of the inventory, one UPDATE of the agent. No per-result query.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from server.schema import encode_compact
from server.store.models import Agent, Gap, Inventory, LatestResult, Report, Result, utcnow

# Kinds that carry every check's current result, so a latest result they no longer mention
# (an account that was deleted, a check the policy turned off) is no longer current.
FULL_SCAN_KINDS = frozenset({"scan"})


@dataclass(frozen=True)
class IngestOutcome:
    stored: bool
    duplicate: bool
    report_id: int | None = None


# Core tables, not ORM entities: intake is hot, and the ORM's bulk path costs more than the
# database does here.
REPORTS = Report.__table__
RESULTS = Result.__table__
LATEST = LatestResult.__table__
INVENTORY = Inventory.__table__
GAPS = Gap.__table__
AGENTS = Agent.__table__


# The two statements that carry every result are written out by hand and sent straight to the
# driver's executemany (pipelined by psycopg, a prepared loop in sqlite3; both measured faster
# than one multi-row INSERT): SQLAlchemy's per-parameter processing cost more than the
# database's work for them. The SQL is the same on SQLite and PostgreSQL (both have
# ON CONFLICT ... DO UPDATE with "excluded"); only the placeholder differs.
RESULT_COLUMNS = (
    "report_id",
    "agent_id",
    "check_id",
    "status",
    "resource",
    "message",
    "evidence",
    "severity",
    "rules",
    "observed_at",
)
LATEST_COLUMNS = (
    "agent_id",
    "check_id",
    "resource",
    "status",
    "message",
    "evidence",
    "severity",
    "rules",
    "report_id",
    "observed_at",
    "received_at",
)
LATEST_KEY = ("agent_id", "check_id", "resource")
# SQLAlchemy's own text form of a DateTime on SQLite; rows written here must compare (as text)
# with rows written through the ORM.
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


@cache
def _results_sql(mark: str) -> str:
    return (
        f"INSERT INTO {RESULTS.name} ({', '.join(RESULT_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(RESULT_COLUMNS))})"
    )


@cache
def _latest_sql(mark: str) -> str:
    changing = [name for name in LATEST_COLUMNS if name not in LATEST_KEY]
    return (
        f"INSERT INTO {LATEST.name} ({', '.join(LATEST_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(LATEST_COLUMNS))}) "
        f"ON CONFLICT ({', '.join(LATEST_KEY)}) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in changing)
        # A report that waited in a spool must not overwrite a newer one that overtook it.
        + f" WHERE {LATEST.name}.observed_at <= excluded.observed_at"
    )


def _placeholder(connection: Connection) -> str:
    return "?" if connection.dialect.paramstyle == "qmark" else "%s"


def _time_param(connection: Connection, moment: datetime.datetime) -> Any:
    if connection.dialect.name == "sqlite":
        return moment.strftime(SQLITE_DATETIME)
    return moment


def _write_results(
    connection: Connection,
    agent_id: str,
    report: dict[str, Any],
    report_id: int,
    now: datetime.datetime,
) -> None:
    mark = _placeholder(connection)
    observed = _time_param(connection, report["created_at"])
    received = _time_param(connection, now)
    history: list[tuple[Any, ...]] = []
    # One latest row per (check_id, resource): the last result in a report is the one that
    # counts, and PostgreSQL would refuse to touch one row twice in a statement anyway.
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for result in report["results"]:
        # Encoded once, used for both tables.
        evidence = getattr(result["evidence"], "encoded", None) or encode_compact(
            result["evidence"]
        )
        rules = encode_compact(result["rules"])
        check_id, status, resource = result["check_id"], result["status"], result["resource"]
        message, severity = result["message"], result["severity"]
        history.append(
            (
                report_id,
                agent_id,
                check_id,
                status,
                resource,
                message,
                evidence,
                severity,
                rules,
                observed,
            )
        )
        latest[(check_id, resource)] = (
            agent_id,
            check_id,
            resource,
            status,
            message,
            evidence,
            severity,
            rules,
            report_id,
            observed,
            received,
        )
    connection.exec_driver_sql(_results_sql(mark), history)
    connection.exec_driver_sql(_latest_sql(mark), list(latest.values()))


def _upsert(dialect: str, table: Any, keys: list[str], changing: list[str]) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, only when the incoming row is not older.

    Built without values and run with a list of rows (executemany), so SQLAlchemy compiles it
    once and caches it.
    """
    insert_for = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert_for(table)
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=keys,
        set_={name: excluded[name] for name in changing},
        where=table.c.observed_at <= excluded.observed_at,
    )


@cache
def _inventory_upsert(dialect: str) -> Any:
    return _upsert(
        dialect, INVENTORY, ["agent_id"], ["data", "report_id", "observed_at", "received_at"]
    )


# Statements built once: SQLAlchemy then only looks them up in its compiled cache per report.
_INSERT_REPORT = (
    REPORTS.insert()
    .values(
        agent_id=bindparam("agent_id"),
        epoch=bindparam("epoch"),
        seq=bindparam("seq"),
        kind=bindparam("kind"),
        created_at=bindparam("created_at"),
        received_at=bindparam("received_at"),
        policy_version=bindparam("policy_version"),
        result_count=bindparam("result_count"),
    )
    .returning(REPORTS.c.id)
)
_RETIRE_LATEST = delete(LATEST).where(
    LATEST.c.agent_id == bindparam("agent_id"), LATEST.c.observed_at < bindparam("observed_at")
)
_TOUCH_AGENT = (
    AGENTS.update().where(AGENTS.c.id == bindparam("agent_id")).values(last_seen=bindparam("now"))
)


def _write(connection: Connection, agent_id: str, report: dict[str, Any], now: Any) -> int:
    dialect = connection.dialect.name
    observed = report["created_at"]
    report_id = connection.execute(
        _INSERT_REPORT,
        {
            "agent_id": agent_id,
            "epoch": report["epoch"],
            "seq": report["seq"],
            "kind": report["kind"],
            "created_at": observed,
            "received_at": now,
            "policy_version": report["policy_version"],
            "result_count": len(report["results"]),
        },
    ).scalar_one()
    if report["results"]:
        _write_results(connection, agent_id, report, report_id, now)
    if report["kind"] in FULL_SCAN_KINDS:
        connection.execute(_RETIRE_LATEST, {"agent_id": agent_id, "observed_at": observed})
    if report["inventory"] is not None:
        connection.execute(
            _inventory_upsert(dialect),
            [
                {
                    "agent_id": agent_id,
                    "data": report["inventory"],
                    "report_id": report_id,
                    "observed_at": observed,
                    "received_at": now,
                }
            ],
        )
    if report["gaps"]:
        connection.execute(
            GAPS.insert(),
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
    connection.execute(_TOUCH_AGENT, {"agent_id": agent_id, "now": now})
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
