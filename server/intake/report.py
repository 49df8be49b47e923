"""Report intake: a report's rows are built before any lock, then written with set-based
statements only (docs/architecture.md, "Report intake").

It receives the report as the agent API decoded it (``xunjian.core.bodies.Report``: checked,
times zoned, evidence and inventory already encoded once while their size was checked) and
writes it with the alerts it opens or resolves (server/alerts/detect.py) and its file events
(server/files/ingest.py): intake sits above the store, which calls no feature.

What is stored is change, not repetition (issue 15). A full scan whose results equal the
host's latest (same digest, server/store/states.py) and is not older than them costs the
report's row and one UPDATE of the agent's row (its scan time); the agent's silence alert is
resolved by its key and the inventory kept as before. A full scan that differs reads the
host's open result states, ends the ones it changed or left out and opens new ones, and
writes the latest results that changed (all of them when a report of another kind moved them
since the host's last full scan). A report that is not an in-order full scan keeps its results as
rows apart (server/store/models.py ``ResultState``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec
from msgspec import Raw
from sqlalchemy import Connection, Engine, select

from server.alerts.detect import (
    ALERTS,
    SILENT_MARKER,
    Previous,
    previous_from_rows,
    previous_sql,
    silence_key,
)
from server.alerts.detect import detect as detect_alerts
from server.files.ingest import store_file_events
from server.intake.agents import SQLITE_DATETIME, placeholder
from server.store.models import (
    DEVICE_PLATFORM,
    Agent,
    Gap,
    Inventory,
    LatestResult,
    Report,
    ResultState,
    utcnow,
)
from server.store.states import scan_digest, value_digest
from xunjian.core.contract import FULL_SCAN_KINDS, bodies, utc_naive

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True)
class IngestOutcome:
    stored: bool
    duplicate: bool
    report_id: int | None = None
    # The agent is revoked (or gone): nothing was stored. The write itself checks, so a caller
    # that authenticated with a cached identity (server/agent_api.py ReportFastPath) never
    # stores a report of an agent revoked since, by any process.
    refused: bool = False


# What ``Writer.write`` returns for a report refused so (ids start at 1 on both databases).
REFUSED = -1


# Core tables, not ORM entities: intake is hot, and the ORM's bulk path costs more than the
# database does here.
REPORTS = Report.__table__
STATES = ResultState.__table__
LATEST = LatestResult.__table__
INVENTORY = Inventory.__table__
GAPS = Gap.__table__
AGENTS = Agent.__table__

# A result as intake keeps it: check_id, resource, status, message, evidence (JSON text),
# severity, rules (JSON text), said (JSON text {"id", "params"} when the agent sent a message
# id, else None), value digest.
Value = tuple[str, str, str, str, str, str, str, str | None, str]


@dataclass(frozen=True)
class Prepared:
    """A report made ready to write: every row's values and digests, computed by the request's
    own thread before it waits for the writer (server/intake/writer.py), so the database's
    lock is held only for the statements."""

    agent_id: str
    report: bodies.Report
    observed: datetime.datetime  # the report's created_at, naive UTC
    full_scan: bool
    values: list[Value]  # one per (check_id, resource): the last one in the report counts
    # Earlier results for a (check_id, resource) the report names again: the weekly report
    # counts each as seen, so they are kept apart (rare: one scan reporting a thing twice).
    repeats: list[Value]
    digest: str | None  # the full scan's digest (server/store/states.py); None otherwise


def prepare(agent_id: str, report: bodies.Report) -> Prepared:
    values: dict[tuple[str, str], Value] = {}
    repeats: list[Value] = []
    for result in report.results:
        # Encoded once while decoding (bodies.Result checks its size), used for every table:
        # encoding it again here cost about 1 µs a result (bench/schema_cost.py's report).
        evidence = result.evidence_json
        rules = _encode(result.rules).decode()
        status, message, severity = result.status, result.message, result.severity
        said = (
            None
            if result.message_id is None
            else _encode({"id": result.message_id, "params": result.params}).decode()
        )
        key = (result.check_id, result.resource)
        if key in values:
            repeats.append(values.pop(key))
        values[key] = (
            result.check_id,
            result.resource,
            status,
            message,
            evidence,
            severity,
            rules,
            said,
            value_digest(status, severity, message, rules, evidence, said),
        )
    full_scan = report.kind in FULL_SCAN_KINDS
    rows = list(values.values())
    return Prepared(
        agent_id=agent_id,
        report=report,
        observed=utc_naive(report.created_at),
        full_scan=full_scan,
        values=rows,
        repeats=repeats,
        digest=scan_digest((v[0], v[1], v[8]) for v in rows) if full_scan else None,
    )


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
        "in_states",
    )
    # A retry of a stored report inserts nothing and returns no row: no exception, so one
    # duplicate never spoils the other reports committed in the same transaction. Nor does a
    # report of a revoked agent: the revocation is read here, in the writing transaction, by
    # the agent's primary key (the SELECT's WHERE also lets SQLite parse the ON CONFLICT).
    return (
        f"INSERT INTO {REPORTS.name} ({', '.join(columns)}) "
        f"SELECT {', '.join([mark] * len(columns))} "
        f"WHERE EXISTS (SELECT 1 FROM {AGENTS.name} WHERE id = {mark} AND revoked_at IS NULL) "
        "ON CONFLICT (agent_id, epoch, seq) DO NOTHING RETURNING id"
    )


@cache
def _unchanged_sql(mark: str) -> str:
    # The whole cost of a full scan that changed nothing: the agent's row takes its time.
    return (
        f"UPDATE {AGENTS.name} SET last_seen = {mark}, scan_observed_at = {mark} "
        f"WHERE id = {mark} AND scan_digest = {mark} AND scan_observed_at <= {mark}"
    )


# PostgreSQL: the report's row, the unchanged test and the host's scan state in one statement.
# The UPDATE runs only when the INSERT stored a row (a retry touches nothing here); (id, 1) for
# an unchanged scan, (id, 0) for one that changed, (NULL, 0) for a retry; then the host's
# newest scan's time and digest as they were before the statement (all parts of a statement
# see one snapshot), which a changed scan needs next: one sync of the pipeline less for it.
# In process (batches of 8, one writer thread): writer CPU per first report 1.10-1.15 ->
# 0.85-0.86 ms, wall 2.96-3.08 -> 2.55-2.69 ms; per report with one change 0.67-0.73 ->
# 0.55-0.65 ms CPU, 1.16-1.32 -> 0.94-1.09 ms wall.
_PG_REPORT_UNCHANGED_SQL = (
    "WITH stored AS ("
    + _report_sql("%s")
    + f"), same AS (UPDATE {AGENTS.name} SET last_seen = %s, scan_observed_at = %s "
    "WHERE id = %s AND scan_digest = %s AND scan_observed_at <= %s "
    "AND EXISTS (SELECT 1 FROM stored) RETURNING 1) "
    "SELECT (SELECT id FROM stored), (SELECT COUNT(*) FROM same), "
    f"(SELECT scan_observed_at FROM {AGENTS.name} WHERE id = %s), "
    f"(SELECT scan_digest FROM {AGENTS.name} WHERE id = %s)"
)


@cache
def _scan_state_sql(mark: str) -> str:
    return f"SELECT scan_observed_at, scan_digest FROM {AGENTS.name} WHERE id = {mark}"


@cache
def _scanned_sql(mark: str) -> str:
    return (
        f"UPDATE {AGENTS.name} SET last_seen = {mark}, scan_digest = {mark}, "
        f"scan_observed_at = {mark} WHERE id = {mark}"
    )


@cache
def _retry_sql(mark: str) -> str:
    # A report stored before (a retry) touches its agent, unless the agent is revoked or gone:
    # no row back then, and the report is refused.
    return (
        f"UPDATE {AGENTS.name} SET last_seen = {mark} WHERE id = {mark} "
        "AND revoked_at IS NULL RETURNING id"
    )


@cache
def _touch_sql(mark: str, forget_scan: bool = False) -> str:
    # A partial report that moved latest results makes the next full scan compare in full.
    forget = ", scan_digest = NULL" if forget_scan else ""
    return f"UPDATE {AGENTS.name} SET last_seen = {mark}{forget} WHERE id = {mark}"


@cache
def _open_states_sql(mark: str) -> str:
    # The host's open states (id, check_id, resource, digest, status) and, as a row whose
    # status is SILENT_MARKER, its open silence alert: when its latest results equal its open
    # states (a full scan wrote them last), this one read also gives alert detection what it
    # compares with, instead of a read of the latest rows of its own.
    return (
        f"SELECT id, check_id, resource, digest, status FROM {STATES.name} "
        f"WHERE agent_id = {mark} AND ended_at IS NULL "
        f"UNION ALL SELECT NULL, '', '', '', '{SILENT_MARKER}' FROM {ALERTS.name} "
        f"WHERE open_key = {mark}"
    )


def _split_open(rows: list[Any]) -> tuple[list[Any], Previous]:
    """``_open_states_sql``'s rows as the open states and what detection compares with."""
    states = [row for row in rows if row[4] != SILENT_MARKER]
    statuses = {(row[1], row[2]): row[4] for row in states}
    return states, Previous(statuses, silent=len(states) < len(rows))


@cache
def _end_states_sql(mark: str) -> str:
    return f"UPDATE {STATES.name} SET ended_at = {mark} WHERE id = {mark}"


STATE_COLUMNS = (
    "agent_id",
    "check_id",
    "resource",
    "status",
    "message",
    "evidence",
    "severity",
    "rules",
    "said",
    "digest",
    "report_id",
    "observed_at",
    "ended_at",
    "apart",
)


@cache
def _states_sql(mark: str) -> str:
    return (
        f"INSERT INTO {STATES.name} ({', '.join(STATE_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(STATE_COLUMNS))})"
    )


# On PostgreSQL a report's rows go in as one statement per table: the rows travel as one jsonb
# document (``_pg_rows``, encoded by msgspec with the evidence, rules and said embedded as the
# JSON they already are) that the server turns into rows; the columns that are the same for
# every row are passed once. Before, each column was a binary text array, which psycopg builds
# element by element in Python. In process (2,000 reports, batches of 8, one writer thread),
# writer CPU per report: first 0.65-0.69 -> 0.51-0.52 ms, one changed 0.43-0.45 -> 0.36-0.40
# ms; PostgreSQL's backend CPU first 1.44-1.47 -> 1.46-1.56 ms, one changed 0.44 -> 0.39-0.43.
_PG_ROWS = (
    "jsonb_to_recordset(%s::jsonb) "
    "AS t(c text, r text, s text, m text, e jsonb, v text, u jsonb, w jsonb, d text)"
)
_PG_STATES_SQL = (
    f"INSERT INTO {STATES.name} ({', '.join(STATE_COLUMNS)}) "
    "SELECT %s::text, c, r, s, m, e, v, u, w, d, %s::bigint, "
    "%s::timestamp, %s::timestamp, %s::boolean "
    f"FROM {_PG_ROWS}"
)


def _pg_rows(values: list[Value]) -> str:
    """The rows as one JSON array for ``_PG_ROWS``; evidence, rules and said are JSON already
    and go in as they are."""
    return _encode(
        [
            {
                "c": c,
                "r": r,
                "s": s,
                "m": m,
                "e": Raw(e),
                "v": v,
                "u": Raw(u),
                "w": None if w is None else Raw(w),
                "d": d,
            }
            for c, r, s, m, e, v, u, w, d in values
        ]
    ).decode()


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
_LATEST_UPDATE = ", ".join(
    f"{name} = excluded.{name}" for name in LATEST_COLUMNS if name not in LATEST_KEY
)


@cache
def _insert_latest_sql(mark: str) -> str:
    return (
        f"INSERT INTO {LATEST.name} ({', '.join(LATEST_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(LATEST_COLUMNS))})"
    )


@cache
def _latest_sql(mark: str) -> str:
    return (
        _insert_latest_sql(mark) + " "
        f"ON CONFLICT ({', '.join(LATEST_KEY)}) DO UPDATE SET {_LATEST_UPDATE}"
        # A report that waited in a spool must not overwrite a newer one that overtook it.
        f" WHERE {LATEST.name}.observed_at <= excluded.observed_at"
    )


_PG_INSERT_LATEST_SQL = (
    f"INSERT INTO {LATEST.name} ({', '.join(LATEST_COLUMNS)}) "
    "SELECT %s::text, c, r, s, m, e, v, u, w, %s::bigint, %s::timestamp, %s::timestamp "
    f"FROM {_PG_ROWS}"
)
_PG_LATEST_SQL = (
    _PG_INSERT_LATEST_SQL + " "
    f"ON CONFLICT ({', '.join(LATEST_KEY)}) DO UPDATE SET {_LATEST_UPDATE}"
    f" WHERE {LATEST.name}.observed_at <= excluded.observed_at"
)

# A full scan's new states and the same values as latest results, from one document: the
# data-modifying WITH runs to completion whether or not the INSERT after it reads it.
_PG_OPEN_AND_FRESH_SQL = (
    f"WITH t AS (SELECT * FROM {_PG_ROWS}), "
    f"opened AS (INSERT INTO {STATES.name} ({', '.join(STATE_COLUMNS)}) "
    "SELECT %s::text, c, r, s, m, e, v, u, w, d, %s::bigint, %s::timestamp, NULL, false "
    "FROM t) "
    f"INSERT INTO {LATEST.name} ({', '.join(LATEST_COLUMNS)}) "
    "SELECT %s::text, c, r, s, m, e, v, u, w, %s::bigint, %s::timestamp, %s::timestamp FROM t"
)
_PG_OPEN_AND_LATEST_SQL = (
    _PG_OPEN_AND_FRESH_SQL + " "
    f"ON CONFLICT ({', '.join(LATEST_KEY)}) DO UPDATE SET {_LATEST_UPDATE}"
    f" WHERE {LATEST.name}.observed_at <= excluded.observed_at"
)


@cache
def _forget_latest_sql(mark: str) -> str:
    return (
        f"DELETE FROM {LATEST.name} WHERE agent_id = {mark} AND check_id = {mark} "
        f"AND resource = {mark}"
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


@cache
def _gap_sql(mark: str) -> str:
    columns = ("agent_id", "report_id", "epoch", "from_seq", "to_seq", "reason", "received_at")
    return (
        f"INSERT INTO {GAPS.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join([mark] * len(columns))})"
    )


def _head_outcome(row: Any) -> tuple[tuple[int] | None, bool, tuple[Any, Any] | None]:
    """The head's row as (the report's id, or None for a retry or a refusal; whether the
    scan is unchanged; the host's scan state as it was: (scan_observed_at, scan_digest))."""
    if row is None or row[0] is None:
        return None, False, None
    return (row[0],), bool(row[1]), (row[2], row[3])


def _plan(found: Any, observed: Any, full_scan: bool) -> tuple[Any, bool, bool]:
    """From the host's scan state (scan_observed_at, scan_digest) or None: its newest scan's
    time, whether its latest results equal its open states (``consistent``), and whether the
    report is a full scan in order (not older than that scan)."""
    newest = None if found is None else found[0]
    consistent = found is not None and found[1] is not None
    return newest, consistent, full_scan and (newest is None or observed >= newest)


@dataclass
class Ahead:
    """PostgreSQL: what the batch read for a report before its turn (``Writer.read_ahead``):
    its head's outcome and the cursors of the reads sent for it, fetched in ``write``."""

    row: tuple[int] | None
    unchanged: bool
    scan_state: tuple[Any, Any] | None
    open: Any = None  # the open states and silence (_open_states_sql)
    previous: Any = None  # detection's read (server/alerts/detect.py previous_sql)


class Writer:
    """The statements of one database, on a driver cursor inside the caller's transaction:
    per statement, SQLAlchemy's execution machinery cost more than the database's work
    (measured with py-spy). ``time`` turns a naive UTC time into the driver's form."""

    def __init__(self, connection: Connection) -> None:
        self.mark = placeholder(connection)
        self.postgresql = self.mark == "%s"
        self.sqlite = connection.dialect.name == "sqlite"

    def time(self, moment: datetime.datetime) -> Any:
        return moment.strftime(SQLITE_DATETIME) if self.sqlite else moment

    def _columns(self, prepared: Prepared, now: datetime.datetime) -> tuple[Any, ...]:
        report = prepared.report
        return (
            prepared.agent_id,
            report.epoch,
            report.seq,
            report.kind,
            self.time(prepared.observed),
            self.time(now),
            report.policy_version,
            len(report.results),
            prepared.full_scan,
        )

    def _has_head(self, prepared: Prepared) -> bool:
        """PostgreSQL: the report's row and the unchanged test are one statement (its head)."""
        return self.postgresql and prepared.full_scan and not prepared.repeats

    def _head_parameters(self, prepared: Prepared, now: datetime.datetime) -> tuple[Any, ...]:
        agent_id, observed = prepared.agent_id, prepared.observed
        same = (now, observed, agent_id, prepared.digest, observed)
        return (*self._columns(prepared, now), agent_id, *same, agent_id, agent_id)

    def send_head(self, cursor: Any, prepared: Prepared, now: datetime.datetime) -> Any:
        """PostgreSQL, before any report of the batch is written: send the report's head on a
        cursor of its own and return that cursor (None for a report without a head)."""
        if not self._has_head(prepared):
            return None
        head = cursor.connection.cursor()
        head.execute(_PG_REPORT_UNCHANGED_SQL, self._head_parameters(prepared, now))
        return head

    def read_ahead(self, head: Any, prepared: Prepared) -> Ahead:
        """Fetch a head sent by ``send_head`` and send the reads its report will need. The
        first head fetched waits for every statement sent so far: the batch's heads, and then
        its reads, cost one round trip each however many reports it holds, where a report
        cost one or two of its own (``_write_batch`` in server/intake/writer.py)."""
        row, unchanged, scan_state = _head_outcome(head.fetchone())
        head.close()
        ahead = Ahead(row, unchanged, scan_state)
        if row is None or unchanged:
            return ahead
        agent_id = prepared.agent_id
        _newest, consistent, in_order = _plan(scan_state, prepared.observed, prepared.full_scan)
        if in_order:
            ahead.open = cursor = head.connection.cursor()
            cursor.execute(_open_states_sql(self.mark), (agent_id, silence_key(agent_id)))
        if not (in_order and consistent):
            ahead.previous = cursor = head.connection.cursor()
            cursor.execute(previous_sql(self.mark), (agent_id, silence_key(agent_id)))
        return ahead

    def write(
        self, cursor: Any, prepared: Prepared, now: datetime.datetime, ahead: Ahead | None = None
    ) -> int | None:
        """Write one report; its id, None when it was stored already (a retry), or
        ``REFUSED`` when its agent is revoked or gone (nothing written). ``ahead``: what
        ``read_ahead`` read and sent for it."""
        mark, report, agent_id = self.mark, prepared.report, prepared.agent_id
        observed, received = self.time(prepared.observed), self.time(now)
        full_scan = prepared.full_scan
        unchanged = False
        scan_state: tuple[Any, Any] | None = None  # read already: (scan_observed_at, digest)
        if ahead is not None:
            row, unchanged, scan_state = ahead.row, ahead.unchanged, ahead.scan_state
        elif self._has_head(prepared):
            # One round trip for what most reports are: stored, and unchanged or not.
            cursor.execute(_PG_REPORT_UNCHANGED_SQL, self._head_parameters(prepared, now))
            row, unchanged, scan_state = _head_outcome(cursor.fetchone())
        else:
            cursor.execute(_report_sql(mark), (*self._columns(prepared, now), agent_id))
            row = cursor.fetchone()
        if row is None:
            cursor.execute(_retry_sql(mark), (received, agent_id))
            return None if cursor.fetchone() is not None else REFUSED
        report_id = int(row[0])
        if prepared.repeats:  # before the states, so the last value has the highest id
            self._states(cursor, agent_id, prepared.repeats, report_id, observed, True)
        if full_scan and not self.postgresql:
            cursor.execute(
                _unchanged_sql(mark), (received, observed, agent_id, prepared.digest, observed)
            )
            unchanged = cursor.rowcount == 1
        if unchanged:
            detect_alerts(cursor, mark, agent_id, report, True, observed, received, None, True)
        else:
            if scan_state is not None:  # the agent's row exists: the report was stored
                found: Any = scan_state
            else:
                cursor.execute(_scan_state_sql(mark), (agent_id,))
                found = cursor.fetchone()
            newest, consistent, in_order = _plan(found, observed, full_scan)
            open_rows: list[Any] | None = None
            known: Previous | None = None
            pending = None if ahead is None else ahead.open
            if in_order and consistent:
                # The latest results equal the open states: one read serves the states'
                # comparison and alert detection. In process, 2,000 reports with one changed
                # result, batches of 8, three alternations: writer CPU per report on
                # PostgreSQL 0.36-0.39 -> 0.34-0.36 ms, on SQLite 0.29-0.30 -> 0.25-0.26 ms
                # (PostgreSQL's backend the same within its noise, 0.38-0.55 ms).
                if pending is None:
                    cursor.execute(_open_states_sql(mark), (agent_id, silence_key(agent_id)))
                    open_rows, known = _split_open(cursor.fetchall())
                else:
                    open_rows, known = _split_open(pending.fetchall())
                    pending.close()
                    pending = None
            elif in_order and self.postgresql and pending is None:
                # Sent now and fetched below: detection's read waits for both in one sync of
                # the pipeline instead of one each. In process, batches of 8, load 5: writer
                # CPU per first report 1.23-1.29 -> 1.09-1.15 ms, per changed report
                # 0.74-0.76 -> 0.64-0.69 ms (two alternations).
                pending = cursor.connection.cursor()
                pending.execute(_open_states_sql(mark), (agent_id, silence_key(agent_id)))
            if ahead is not None and ahead.previous is not None:
                known = previous_from_rows(ahead.previous.fetchall())
                ahead.previous.close()
            # Before the latest results change: detection compares against the previous ones.
            had_latest = detect_alerts(
                cursor, mark, agent_id, report, full_scan, observed, received, newest, known=known
            )
            if in_order:
                if pending is not None:
                    open_rows, _known = _split_open(pending.fetchall())
                    pending.close()
                # consistent: the latest rows equal the open states (the host's last write of
                # them was a full scan), so only what changed is written to them, and only
                # what went is deleted. had_latest False: the host has none (its first report,
                # or its first after they were all retired): plain INSERTs, nothing to retire
                # (against upserts, on PostgreSQL, in process, 1,000 first reports: backend CPU
                # per report 2.72-3.05 -> 2.09-2.66 ms, writer wall 3.31-4.29 -> 2.74-3.24 ms,
                # three pairs; SQLite's writer the same within noise). Should another process commit
                # rows of this host meanwhile, the INSERT fails on the key: the batch is
                # written again one report at a time, and this report's retry reads those rows
                # and upserts.
                latest = "upsert" if consistent else "fresh" if had_latest is False else None
                changed, gone, written = self._advance(
                    cursor, prepared, report_id, observed, open_rows, received, latest
                )
                if latest is None:
                    self._latest(cursor, prepared, report_id, observed, received)
                    cursor.execute(_retire_sql(mark), (agent_id, observed))
                elif not written:
                    chosen = changed if consistent else None
                    self._latest(
                        cursor, prepared, report_id, observed, received, chosen, not consistent
                    )
                if consistent and gone:
                    cursor.executemany(_forget_latest_sql(mark), [(agent_id, *key) for key in gone])
                cursor.execute(_scanned_sql(mark), (received, prepared.digest, observed, agent_id))
            else:
                late = newest is not None and observed < newest
                if full_scan:
                    cursor.execute(
                        f"UPDATE {REPORTS.name} SET in_states = {mark} WHERE id = {mark}",
                        (False, report_id),
                    )
                if prepared.values:
                    self._states(cursor, agent_id, prepared.values, report_id, observed, True)
                moved = bool(prepared.values) and not late
                if moved:
                    self._latest(cursor, prepared, report_id, observed, received)
                cursor.execute(_touch_sql(mark, moved), (received, agent_id))
        self._extras(cursor, prepared, report_id, observed, received, now)
        return report_id

    def _advance(
        self,
        cursor: Any,
        prepared: Prepared,
        report_id: int,
        observed: Any,
        open_rows: list[Any] | None = None,
        received: Any = None,
        latest: str | None = None,
    ) -> tuple[list[Value], list[tuple[str, str]], bool]:
        """End the host's open states this scan changed or left out; open the new values.
        Returns the values opened, the (check_id, resource) of the states left out, and
        whether the latest results were written too. ``open_rows``: the host's open states,
        read already (else read here). ``latest``: "upsert" when the latest results take the
        values opened, "fresh" when they take all the report's values and the host has none.
        On PostgreSQL, when those are the values opened, one statement writes both."""
        mark, agent_id = self.mark, prepared.agent_id
        if open_rows is None:
            cursor.execute(_open_states_sql(mark), (agent_id, silence_key(agent_id)))
            open_rows, _known = _split_open(cursor.fetchall())
        current = {(value[0], value[1]): value[8] for value in prepared.values}
        opened: dict[tuple[str, str], str] = {}
        ending: list[tuple[Any, int]] = []
        ended_keys: list[tuple[str, str]] = []
        for state_id, check_id, resource, digest, _status in open_rows:
            key = (check_id, resource)
            if current.get(key) == digest and key not in opened:
                opened[key] = digest
            else:
                ending.append((observed, state_id))
                ended_keys.append(key)
        if ending:
            cursor.executemany(_end_states_sql(mark), ending)
        changed = [value for value in prepared.values if (value[0], value[1]) not in opened]
        gone = [key for key in ended_keys if key not in current]
        together = self.postgresql and (
            latest == "upsert" or (latest == "fresh" and len(changed) == len(prepared.values))
        )
        if not changed:
            return changed, gone, latest == "upsert"  # no latest row to write either
        if together:
            # One document, encoded and parsed once, for both tables. In process, 2,000
            # reports, batches of 8, two alternations: per first report, PostgreSQL's
            # backend CPU 2.23-2.30 -> 1.85 ms, writer CPU 0.65-0.71 -> 0.55-0.56 ms; per
            # report with one change, backend 0.44-0.52 -> 0.41 ms.
            sql = _PG_OPEN_AND_LATEST_SQL if latest == "upsert" else _PG_OPEN_AND_FRESH_SQL
            row = (agent_id, report_id, observed)
            cursor.execute(sql, (_pg_rows(changed), *row, *row, received))
            return changed, gone, True
        self._states(cursor, agent_id, changed, report_id, observed, False)
        return changed, gone, False

    def _states(
        self,
        cursor: Any,
        agent_id: str,
        values: list[Value],
        report_id: int,
        observed: Any,
        apart: bool,
    ) -> None:
        ended = observed if apart else None
        if self.postgresql:
            cursor.execute(
                _PG_STATES_SQL, (agent_id, report_id, observed, ended, apart, _pg_rows(values))
            )
            return
        cursor.executemany(
            _states_sql(self.mark),
            [
                (agent_id, c, r, s, m, e, v, u, w, d, report_id, observed, ended, apart)
                for c, r, s, m, e, v, u, w, d in values
            ],
        )

    def _latest(
        self,
        cursor: Any,
        prepared: Prepared,
        report_id: int,
        observed: Any,
        received: Any,
        values: list[Value] | None = None,
        fresh: bool = False,
    ) -> None:
        """Upsert the latest results: ``values`` (by default all the report's); ``fresh``:
        insert them, the host having none."""
        chosen = prepared.values if values is None else values
        if not chosen:
            return
        agent_id = prepared.agent_id
        if self.postgresql:
            cursor.execute(
                _PG_INSERT_LATEST_SQL if fresh else _PG_LATEST_SQL,
                (agent_id, report_id, observed, received, _pg_rows(chosen)),
            )
            return
        cursor.executemany(
            _insert_latest_sql(self.mark) if fresh else _latest_sql(self.mark),
            [
                (agent_id, c, r, s, m, e, v, u, w, report_id, observed, received)
                for c, r, s, m, e, v, u, w, _d in chosen
            ],
        )

    def _extras(
        self,
        cursor: Any,
        prepared: Prepared,
        report_id: int,
        observed: Any,
        received: Any,
        now: datetime.datetime,
    ) -> None:
        mark, report, agent_id = self.mark, prepared.report, prepared.agent_id
        inventory = report.inventory_json  # encoded once while decoding, like the evidence
        if inventory is not None:
            cursor.execute(
                _inventory_sql(mark), (agent_id, inventory, report_id, observed, received)
            )
        if report.file_events:
            store_file_events(
                cursor, mark, agent_id, report_id, report.file_events, received, self.time
            )
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
        if report.gaps:
            cursor.executemany(
                _gap_sql(mark),
                [
                    (
                        agent_id,
                        report_id,
                        report.epoch,
                        gap.from_seq,
                        gap.to_seq,
                        gap.reason,
                        received,
                    )
                    for gap in report.gaps
                ],
            )


def ingest_report(bind: Engine | Connection, agent_id: str, report: bodies.Report) -> IngestOutcome:
    """Store a validated report once. A retry of a stored report changes nothing.

    With an engine, the report is prepared here and committed by the engine's group writer
    (server/intake/writer.py) with the others that wait at the same moment; the call returns
    once that commit is done. With a connection (which may be in a transaction already), it is
    written and committed on it alone.
    """
    prepared = prepare(agent_id, report)
    if isinstance(bind, Engine):
        # Imported here: the writer module builds on this one's Writer and Prepared.
        from server.intake.writer import group_writer

        return group_writer(bind).submit(prepared)
    return _ingest_on(bind, prepared)


def _ingest_on(connection: Connection, prepared: Prepared) -> IngestOutcome:
    if not connection.in_transaction():
        connection.begin()
    writer = Writer(connection)
    cursor = connection.connection.cursor()
    try:
        report_id = writer.write(cursor, prepared, utcnow())
        connection.commit()
    except Exception:
        connection.rollback()
        raise
    finally:
        cursor.close()
    if report_id == REFUSED:
        return IngestOutcome(stored=False, duplicate=False, refused=True)
    if report_id is None:
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
