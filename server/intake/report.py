"""Report intake: one transaction per report, set-based writes only (docs/architecture.md).

It receives the report as the agent API decoded it (``xunjian.core.bodies.Report``: checked,
times zoned, evidence and inventory already encoded once while their size was checked) and
writes it with the alerts it opens or resolves (server/alerts/detect.py) and its file events
(server/files/ingest.py): intake sits above the store, which calls no feature.

The cost per report is fixed and small whatever its size: one INSERT of the report (its id
comes back with RETURNING), one read of the agent's previous statuses for alert detection
(server/alerts/detect.py; writes only when an alert opens or resolves), one write of its
results, one upsert of the latest results, one upsert of the inventory, one UPDATE of the
agent, and one more when the report names the host's platform (``Report.platform``: the
scanned host's system, which the console, alerts and weekly report show). No per-result
query. The agent API runs them on the connection that authenticated the request, in one transaction.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from server.alerts.detect import detect as detect_alerts
from server.files.ingest import store_file_events
from server.intake.agents import placeholder, time_param
from server.store.models import (
    DEVICE_PLATFORM,
    Agent,
    Gap,
    Inventory,
    LatestResult,
    Report,
    Result,
    utcnow,
)
from xunjian.core.contract import FULL_SCAN_KINDS, bodies, utc_naive

_encode = msgspec.json.Encoder().encode


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
# driver: SQLAlchemy's per-parameter processing cost more than the database's work for them.
# SQLite runs them as executemany (a prepared loop in C); PostgreSQL as one statement over
# unnested arrays (see _PG_RESULTS_SQL), because psycopg's executemany is a Python loop.
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
    "said",
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
    "said",
    "report_id",
    "observed_at",
    "received_at",
)
LATEST_KEY = ("agent_id", "check_id", "resource")


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


def _history_and_latest(
    agent_id: str, report: bodies.Report, report_id: int, observed: Any, received: Any
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    history: list[tuple[Any, ...]] = []
    # One latest row per (check_id, resource): the last result in a report is the one that
    # counts, and PostgreSQL would refuse to touch one row twice in a statement anyway.
    latest: dict[tuple[str, str], tuple[Any, ...]] = {}
    for result in report.results:
        # Encoded once while decoding (bodies.Result checks its size), used for both tables:
        # encoding it again here cost about 1 µs a result (bench/schema_cost.py's report).
        evidence = result.evidence_json
        rules = _encode(result.rules).decode()
        check_id, status, resource = result.check_id, result.status, result.resource
        message, severity = result.message, result.severity
        said = (
            None
            if result.message_id is None
            else _encode({"id": result.message_id, "params": result.params}).decode()
        )
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
                said,
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
            said,
            report_id,
            observed,
            received,
        )
    return history, list(latest.values())


@cache
def _report_sql(mark: str) -> str:
    columns = (
        "agent_id",
        "epoch",
        "seq",
        "kind",
        "created_at",
        "received_at",
        "policy_version",
        "result_count",
    )
    return (
        f"INSERT INTO {REPORTS.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))}) RETURNING id"
    )


@cache
def _retire_sql(mark: str) -> str:
    return f"DELETE FROM {LATEST.name} WHERE agent_id = {mark} AND observed_at < {mark}"


@cache
def _inventory_sql(mark: str) -> str:
    columns = ("agent_id", "data", "report_id", "observed_at", "received_at")
    changing = [name for name in columns if name != "agent_id"]
    return (
        f"INSERT INTO {INVENTORY.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))}) "
        "ON CONFLICT (agent_id) DO UPDATE SET "
        + ", ".join(f"{name} = excluded.{name}" for name in changing)
        + f" WHERE {INVENTORY.name}.observed_at <= excluded.observed_at"
    )


@cache
def _touch_sql(mark: str) -> str:
    return f"UPDATE {AGENTS.name} SET last_seen = {mark} WHERE id = {mark}"


@cache
def _platform_sql(mark: str) -> str:
    # A device's row keeps ``device`` (server/devices): its reports describe what was checked
    # over SSH, not what the row is. A report that waited in a spool while a newer one landed
    # does not turn the host back: the platform goes with the newest inventory, whose one row
    # per agent (read by its key) keeps the newest observed_at.
    return (
        f"UPDATE {AGENTS.name} SET platform = {mark}, os = {mark}, os_version = {mark}, "
        f"os_build = {mark} WHERE id = {mark} AND platform <> '{DEVICE_PLATFORM}' "
        f"AND NOT EXISTS (SELECT 1 FROM {INVENTORY.name} WHERE agent_id = {mark} "
        f"AND observed_at > {mark})"
    )


# On PostgreSQL each report's rows go in as one statement per table, the columns passed as
# arrays and unnested server side: psycopg's executemany sends (and Python-processes) every row
# as a statement of its own, which profiled at about two thirds of a report's CPU time. The
# columns that are the same for every row of a report are passed once. The arrays go in binary
# (%b): psycopg's text form escapes each element with a Python regex, which cost more than
# everything else in the request.
_PG_RESULTS_SQL = (
    f"INSERT INTO {RESULTS.name} ({', '.join(RESULT_COLUMNS)}) "
    "SELECT %s::bigint, %s::text, c, s, r, m, e::jsonb, v, u::jsonb, w::jsonb, %s::timestamp "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "
    "%b::text[], %b::text[]) AS t(c, s, r, m, e, v, u, w)"
)
_PG_LATEST_SQL = (
    f"INSERT INTO {LATEST.name} ({', '.join(LATEST_COLUMNS)}) "
    "SELECT %s::text, c, r, s, m, e::jsonb, v, u::jsonb, w::jsonb, %s::bigint, "
    "%s::timestamp, %s::timestamp "
    "FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], "
    "%b::text[], %b::text[]) AS t(c, r, s, m, e, v, u, w) "
    f"ON CONFLICT ({', '.join(LATEST_KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in LATEST_COLUMNS if name not in LATEST_KEY)
    + f" WHERE {LATEST.name}.observed_at <= excluded.observed_at"
)


def _write_results_postgresql(
    cursor: Any, history: list[tuple[Any, ...]], latest: list[tuple[Any, ...]]
) -> None:
    report_id, agent_id, observed = history[0][0], history[0][1], history[0][10]
    # history rows: report_id, agent_id, check_id, status, resource, message, evidence,
    # severity, rules, said, observed_at
    columns = list(zip(*(row[2:10] for row in history), strict=True))
    cursor.execute(_PG_RESULTS_SQL, (report_id, agent_id, observed, *map(list, columns)))
    # latest rows: agent_id, check_id, resource, status, message, evidence, severity, rules,
    # said, report_id, observed_at, received_at
    received = latest[0][11]
    columns = list(zip(*(row[1:9] for row in latest), strict=True))
    cursor.execute(_PG_LATEST_SQL, (agent_id, report_id, observed, received, *map(list, columns)))


def _write(connection: Connection, agent_id: str, report: bodies.Report, now: Any) -> int:
    """The report's statements, written by hand and run on the driver's own cursor inside the
    caller's transaction: per statement, SQLAlchemy's execution machinery cost more than the
    database's work (measured with py-spy). Gaps are rare and go through SQLAlchemy."""
    mark = placeholder(connection)
    observed = time_param(connection, utc_naive(report.created_at))
    received = time_param(connection, now)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(
            _report_sql(mark),
            (
                agent_id,
                report.epoch,
                report.seq,
                report.kind,
                observed,
                received,
                report.policy_version,
                len(report.results),
            ),
        )
        report_id = int(cursor.fetchone()[0])
        full_scan = report.kind in FULL_SCAN_KINDS
        # Before the latest results change: detection compares against the previous ones.
        detect_alerts(cursor, mark, agent_id, report, full_scan, observed, received)
        if report.results:
            history, latest = _history_and_latest(agent_id, report, report_id, observed, received)
            if mark == "%s":
                _write_results_postgresql(cursor, history, latest)
            else:
                cursor.executemany(_results_sql(mark), history)
                cursor.executemany(_latest_sql(mark), latest)
        if full_scan:
            cursor.execute(_retire_sql(mark), (agent_id, observed))
        inventory = report.inventory_json  # encoded once while decoding, like the evidence
        if inventory is not None:
            cursor.execute(
                _inventory_sql(mark), (agent_id, inventory, report_id, observed, received)
            )
        if report.file_events:
            store_file_events(
                cursor,
                mark,
                agent_id,
                report_id,
                report.file_events,
                received,
                lambda moment: time_param(connection, moment),
            )
        cursor.execute(_touch_sql(mark), (received, agent_id))
        if report.platform is not None:
            described = report.platform
            cursor.execute(
                _platform_sql(mark),
                (
                    described.name,
                    described.os,
                    described.version,
                    described.build,
                    agent_id,
                    agent_id,
                    observed,
                ),
            )
    finally:
        cursor.close()
    if report.gaps:
        connection.execute(
            GAPS.insert(),
            [
                {
                    "from_seq": gap.from_seq,
                    "to_seq": gap.to_seq,
                    "reason": gap.reason,
                    "agent_id": agent_id,
                    "report_id": report_id,
                    "epoch": report.epoch,
                    "received_at": now,
                }
                for gap in report.gaps
            ],
        )
    return report_id


def _is_integrity_error(connection: Connection, error: Exception) -> bool:
    return isinstance(error, (IntegrityError, connection.dialect.loaded_dbapi.IntegrityError))


# SQLite has one writer at a time, and a writer that finds the lock taken polls it with growing
# sleeps (busy_timeout): with a dozen threads per process that cost CPU and seconds of p99.
# Threads of one process therefore take turns here, waking as soon as the turn is theirs; only
# the other processes still meet SQLite's own lock. No thread holds a database lock while it
# waits here (the authentication read has finished), so this cannot deadlock.
_SQLITE_WRITERS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()
_SQLITE_WRITERS_GUARD = threading.Lock()


def _write_turn(connection: Connection) -> contextlib.AbstractContextManager[Any]:
    if connection.dialect.name != "sqlite":
        return contextlib.nullcontext()
    with _SQLITE_WRITERS_GUARD:
        return _SQLITE_WRITERS.setdefault(connection.engine, threading.Lock())


def ingest_report(bind: Engine | Connection, agent_id: str, report: bodies.Report) -> IngestOutcome:
    """Store a validated report once. A retry of a stored report changes nothing.

    ``bind`` is an engine (a connection of its own) or the request's connection, which may
    already be in a transaction (the agent's authentication read): the report commits with it.
    """
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return ingest_report(connection, agent_id, report)
    with _write_turn(bind):
        return _ingest_on(bind, agent_id, report)


def _ingest_on(connection: Connection, agent_id: str, report: bodies.Report) -> IngestOutcome:
    if not connection.in_transaction():
        connection.begin()
    now = utcnow()
    try:
        report_id = _write(connection, agent_id, report, now)
        connection.commit()
    except Exception as error:
        connection.rollback()
        # Most likely the unique (agent_id, epoch, seq): another attempt of this report won,
        # perhaps in another process at the same moment. Anything else is a real error.
        if not _is_integrity_error(connection, error):
            raise
        if not _report_exists_on(connection, agent_id, report.epoch, report.seq):
            raise
        connection.execute(update(Agent).where(Agent.id == agent_id).values(last_seen=now))
        connection.commit()
        return IngestOutcome(stored=False, duplicate=True)
    return IngestOutcome(stored=True, duplicate=False, report_id=report_id)


def _report_exists_on(connection: Connection, agent_id: str, epoch: int, seq: int) -> bool:
    found = connection.execute(
        select(Report.id).where(
            Report.agent_id == agent_id, Report.epoch == epoch, Report.seq == seq
        )
    ).first()
    return found is not None


def report_exists(engine: Engine, agent_id: str, epoch: int, seq: int) -> bool:
    with engine.connect() as connection:
        found = connection.execute(
            select(Report.id).where(
                Report.agent_id == agent_id, Report.epoch == epoch, Report.seq == seq
            )
        ).first()
    return found is not None
