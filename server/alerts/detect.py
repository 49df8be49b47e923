"""Alert detection inside the report's ingest transaction (called by server/intake/report.py).

Cost per report: ONE query (the agent's previous statuses from ``latest_results``, plus its
open ``agent_silent`` alert in the same statement), then statements only for what changed:
an INSERT ... ON CONFLICT (open_key) DO NOTHING for the alerts to open and an UPDATE for the
ones to resolve, both run as executemany. A report that changes nothing costs one SELECT.

Rules (docs/alerts.md):

* a result (agent, check, resource) that fails now and did not fail before (passed, was never
  seen, or was error/not applicable) opens ``check_failed`` with the result's severity;
* a result that failed before and passes now resolves it, and so does a full scan that no
  longer reports it (the same rule that retires its latest row);
* a report older than the agent's newest stored result (it waited in a spool while newer
  ones overtook it) opens and resolves no check alert: it does not describe the present;
* a report with results resolves the agent's open ``agent_silent`` alert, however old its
  content: the agent is talking again (the periodic sweep resolves it on heartbeats too);
* a gap with reason "spool full" opens ``spool_overflow`` (low). A gap is an event that
  happened, not a state, so it counts even when its report is old.

Two processes ingesting at once cannot open a subject twice: ``open_key`` is UNIQUE.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec

from server.alerts.models import Alert, open_key
from xunjian.core.contract import GAP_SPOOL_FULL
from xunjian.core.contract.bodies import Report, Result

ALERTS = Alert.__table__
SILENT_MARKER = "agent_silent"  # not a result status, so it cannot be mistaken for one
# Checks whose failure is an alert of its own kind instead of check_failed: the device prober's
# vendor-default credential (server/devices/check.py) is "default_credential".
CHECK_ALERT_KINDS = {"device.default_credential": "default_credential"}
_OPEN_COLUMNS = (
    "kind",
    "severity",
    "agent_id",
    "check_id",
    "resource",
    "message",
    "open_key",
    "opened_at",
)


def silence_key(agent_id: str) -> str:
    """The open key of the agent's ``agent_silent`` alert."""
    return open_key("agent_silent", agent_id)


@cache
def previous_sql(mark: str) -> str:
    return (
        f"SELECT check_id, resource, status, observed_at FROM latest_results "
        f"WHERE agent_id = {mark} "
        f"UNION ALL SELECT '', '', '{SILENT_MARKER}', opened_at FROM {ALERTS.name} "
        f"WHERE open_key = {mark}"
    )


@cache
def open_sql(mark: str) -> str:
    return (
        f"INSERT INTO {ALERTS.name} ({', '.join(_OPEN_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_OPEN_COLUMNS))}) "
        "ON CONFLICT (open_key) DO NOTHING"
    )


@cache
def resolve_sql(mark: str) -> str:
    return f"UPDATE {ALERTS.name} SET resolved_at = {mark}, open_key = NULL WHERE open_key = {mark}"


# PostgreSQL: a report's alerts open in one statement and resolve in another, whatever their
# number (in a pipeline, executemany is a statement per row, each with its own Python and
# executor cost). The rows to open travel as one jsonb document, like intake's result rows;
# the time is the same for every row and passed once. In process, 2,000 first reports (8 alerts
# each), batches of 8, two alternations: writer CPU per report 0.49-0.54 -> 0.43-0.45 ms.
_PG_OPEN_SQL = (
    f"INSERT INTO {ALERTS.name} ({', '.join(_OPEN_COLUMNS)}) "
    "SELECT kind, severity, agent_id, check_id, resource, message, open_key, %s::timestamp "
    "FROM jsonb_to_recordset(%s::jsonb) AS t(kind text, severity text, agent_id text, "
    "check_id text, resource text, message text, open_key text) "
    "ON CONFLICT (open_key) DO NOTHING"
)
_PG_RESOLVE_SQL = (
    f"UPDATE {ALERTS.name} SET resolved_at = %s, open_key = NULL WHERE open_key = ANY(%s::text[])"
)
_encode = msgspec.json.Encoder().encode


def detect(
    cursor: Any,
    mark: str,
    agent_id: str,
    report: Report,
    full_scan: bool,
    observed: Any,
    received: Any,
    newest_scan: Any = None,
    unchanged: bool = False,
    known: Previous | None = None,
) -> bool | None:
    """Open and resolve the report's alerts. Must run before the report's latest results are
    written: it compares against the previous ones. ``observed`` and ``received`` are in the
    driver's form (text on SQLite, datetime on PostgreSQL), as the rows come back.

    ``newest_scan``: the host's newest full scan's time (``agents.scan_observed_at``), since a
    latest row keeps the time of the scan that last wrote it, and an unchanged scan writes
    none. ``unchanged``: a full scan whose results equal the host's latest ones; nothing can
    open or resolve but the agent's silence and a gap, so the previous statuses are not read.

    Returns whether the host had latest results when they were read (None: not read), which
    spares intake the upsert and the retiring DELETE of a host's first report.

    ``known``: the previous statuses, read already by the caller (intake reads them with the
    host's open result states when its latest results equal those); then nothing is read."""
    had_latest: bool | None = None
    opening: list[tuple[Any, ...]] = []
    resolving: list[tuple[Any, ...]] = []
    if any(gap.reason == GAP_SPOOL_FULL for gap in report.gaps):
        key = open_key("spool_overflow", agent_id)
        opening.append(
            ("spool_overflow", "low", agent_id, "", "", _gap_message(report), key, received)
        )
    if unchanged:
        resolving.append((received, silence_key(agent_id)))
    elif report.results or full_scan:
        if known is None:
            cursor.execute(previous_sql(mark), (agent_id, silence_key(agent_id)))
            known = previous_from_rows(cursor.fetchall())
        if known.silent:
            resolving.append((received, silence_key(agent_id)))
        had_latest = bool(known.statuses)
        newest = known.newest
        if newest_scan is not None and (newest is None or newest_scan > newest):
            newest = newest_scan
        if newest is None or observed >= newest:
            _compare(agent_id, report, full_scan, known.statuses, received, opening, resolving)
    if mark == "%s":  # PostgreSQL
        if resolving:
            cursor.execute(_PG_RESOLVE_SQL, (received, [key for _at, key in resolving]))
        if opening:
            rows = [dict(zip(_OPEN_COLUMNS[:-1], row[:-1], strict=True)) for row in opening]
            cursor.execute(_PG_OPEN_SQL, (received, _encode(rows).decode()))
        return had_latest
    if resolving:
        cursor.executemany(resolve_sql(mark), resolving)
    if opening:
        cursor.executemany(open_sql(mark), opening)
    return had_latest


@dataclass(frozen=True)
class Previous:
    """What detection compares a report with: the host's statuses by (check_id, resource),
    whether its silence alert is open, and the newest time among the statuses' rows (None when
    unknown or none: the host's newest scan's time then decides whether a report is late)."""

    statuses: dict[tuple[str, str], str]
    silent: bool
    newest: Any = None


def previous_from_rows(rows: list[Any]) -> Previous:
    """``previous_sql``'s rows as what detection compares with."""
    statuses: dict[tuple[str, str], str] = {}
    silent = False
    newest = None
    for check_id, resource, status, seen in rows:
        if status == SILENT_MARKER:
            silent = True
            continue
        statuses[(check_id, resource)] = status
        if newest is None or seen > newest:
            newest = seen
    return Previous(statuses, silent, newest)


def _compare(
    agent_id: str,
    report: Report,
    full_scan: bool,
    previous: dict[tuple[str, str], str],
    received: Any,
    opening: list[tuple[Any, ...]],
    resolving: list[tuple[Any, ...]],
) -> None:
    current: dict[tuple[str, str], Result] = {}
    for result in report.results:
        current[(result.check_id, result.resource)] = result  # the last one counts
    for (check_id, resource), result in current.items():
        status, before = result.status, previous.get((check_id, resource))
        kind = CHECK_ALERT_KINDS.get(check_id, "check_failed")
        if status == "fail" and before != "fail":
            key = open_key(kind, agent_id, check_id, resource)
            opening.append(
                (
                    kind,
                    result.severity,
                    agent_id,
                    check_id,
                    resource,
                    result.message,
                    key,
                    received,
                )
            )
        elif status == "pass" and before == "fail":
            resolving.append((received, open_key(kind, agent_id, check_id, resource)))
    if full_scan:
        for (check_id, resource), before in previous.items():
            if before == "fail" and (check_id, resource) not in current:
                kind = CHECK_ALERT_KINDS.get(check_id, "check_failed")
                key = open_key(kind, agent_id, check_id, resource)
                resolving.append((received, key))


def _gap_message(report: Report) -> str:
    spans = [f"{gap.from_seq}..{gap.to_seq}" for gap in report.gaps if gap.reason == GAP_SPOOL_FULL]
    return f"the agent's spool was full and dropped reports {', '.join(spans)}"
