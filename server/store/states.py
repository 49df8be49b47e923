"""Digests that tell whether a host's results changed (issue 15: store change, not repetition).

A result's *value* is what the console, alerts and reports show of it: status, severity,
message, rules, evidence and ``said`` (the message id with its parameters, issue 13).
``value_digest`` names a value in 32 hex characters, so intake compares a report's results
with the host's open states without reading their text, and
``scan_digest`` names a whole full scan (every (check, resource) with its value), kept on the
agent's row: a full scan whose digest equals the host's costs one UPDATE of that row.

Both are computed from the text the store keeps (evidence and rules as their JSON), so the
migration that builds states from old rows (0023_result_state) computes them the same way. A
PostgreSQL ``jsonb`` column gives its text back normalised (key order, spaces), so there a
state migrated from old rows may look changed once, at the host's next report; that costs a
row, never a wrong count (counts come from the reports, docs/architecture.md).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine

from server.store.batches import PURGE_BATCH, delete_in_batches

_SEPARATOR = "\x00"


def value_digest(
    status: str, severity: str, message: str, rules: str, evidence: str, said: str | None = None
) -> str:
    # blake2b: the fastest digest hashlib has in C; 16 bytes leave collisions out of reach for
    # the few values one (host, check, resource) ever has. ``said`` (the message id and its
    # parameters as JSON text, issue 13) is part of the value: a new message id is a change.
    parts = (status, severity, message, rules, evidence)
    text = _SEPARATOR.join(parts if said is None else (*parts, said))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def scan_digest(values: Iterable[tuple[str, str, str]]) -> str:
    """A full scan's digest from its ``(check_id, resource, value_digest)``: order-free, since
    an agent may list its results in another order without changing anything."""
    text = "\n".join(_SEPARATOR.join(item) for item in sorted(values))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class HistoryPurge:
    states: int
    reports: int
    gaps: int = 0


def purge_history(
    engine: Engine, cutoff: datetime.datetime, batch: int = PURGE_BATCH
) -> HistoryPurge:
    """Forget what ended before ``cutoff``: result states that ended before it (and results
    kept apart, which end where they start) and the reports made before it, each with its
    gaps. A state still open at the cutoff stays, whatever its age: it is the host's
    present, and it keeps the weeks after the cutoff reproducible (server/reports/collect.py
    counts a state's reports inside the week only, and a week's last result is a state in
    force inside it). What points at a purged report without a foreign key stays: the host's
    latest results, its inventory and its open states keep the id of the report that last
    set them, which is where they came from, not a link anything follows.

    Deleted in batches of ``batch`` rows, a transaction each; gaps are deleted with their
    report explicitly, not left to ON DELETE CASCADE, which SQLite applies only on
    connections that turned foreign keys on."""
    # Imported here: the migration that imports this module's digests needs no models.
    from server.store.models import Gap, Report, ResultState

    [states] = delete_in_batches(engine, ResultState.id, ResultState.ended_at < cutoff, batch)
    reports, gaps = delete_in_batches(
        engine, Report.id, Report.created_at < cutoff, batch, dependents=[Gap.report_id]
    )
    return HistoryPurge(states=states, reports=reports, gaps=gaps)
