"""result_states: the history of results as states, not one row per report (issue 15)

A full scan whose results equal the host's latest ones writes no result rows any more: the
history keeps one row per value a (host, check, resource) had, from the scan that first
reported it to the scan that changed it (``result_states``); the agent's row keeps the digest
and time of its newest full scan; ``reports.in_states`` marks the full scans that count for
the states open at their time. The old ``results`` rows are folded into states here, host by
host in the order the scans were made, and the table is dropped.

Revision ID: 0023_result_state
Revises: 0022_console
Create Date: 2026-12-07
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from server.store.states import scan_digest, value_digest

revision = "0023_result_state"
down_revision = "0022_console"
branch_labels = None
depends_on = None

FULL_SCAN_KIND = "scan"  # xunjian.core.contract.KIND_SCAN when this revision was written
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")
_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_BATCH = 5000


def _states_table() -> sa.Table:
    return sa.Table(
        "result_states",
        sa.MetaData(),
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("agent_id", sa.String(36)),
        sa.Column("check_id", sa.String(128)),
        sa.Column("resource", sa.String(200)),
        sa.Column("status", sa.String(16)),
        sa.Column("message", sa.Text()),
        sa.Column("evidence", _JSON),
        sa.Column("severity", sa.String(16)),
        sa.Column("rules", _JSON),
        sa.Column("said", _JSON),
        sa.Column("digest", sa.String(32)),
        sa.Column("report_id", sa.BigInteger()),
        sa.Column("observed_at", sa.DateTime()),
        sa.Column("ended_at", sa.DateTime()),
        sa.Column("apart", sa.Boolean()),
    )


def upgrade() -> None:
    op.add_column("agents", sa.Column("scan_digest", sa.String(32), nullable=True))
    op.add_column("agents", sa.Column("scan_observed_at", sa.DateTime(), nullable=True))
    op.add_column(
        "reports",
        sa.Column("in_states", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_reports_agent_created", "reports", ["agent_id", "created_at"])
    op.create_table(
        "result_states",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "agent_id",
            sa.String(36),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("check_id", sa.String(128), nullable=False),
        sa.Column("resource", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("rules", _JSON, nullable=False),
        sa.Column("said", _JSON, nullable=True),
        sa.Column("digest", sa.String(32), nullable=False),
        sa.Column("report_id", sa.BigInteger(), nullable=False),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("apart", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_result_states_agent_open", "result_states", ["agent_id", "ended_at"])
    op.create_index(
        "ix_result_states_key",
        "result_states",
        ["agent_id", "check_id", "resource", "observed_at"],
    )
    _fold_results()
    op.drop_index("ix_results_agent_check", table_name="results")
    op.drop_index("ix_results_report_id", table_name="results")
    op.drop_table("results")


def _text(value: Any) -> str:
    # SQLite hands JSON columns back as the stored text; PostgreSQL's jsonb as objects.
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _moment(value: Any) -> datetime.datetime:
    # A text() query gets SQLite's stored text back; PostgreSQL gives a datetime.
    return value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(value)


# Every host's reports in the order they were made, each with its rows (a report without
# results as one row of NULLs), in one query: the index on (agent_id, created_at) made above
# gives the order, and ix_results_report_id each report's rows in the order they were written.
# JSON columns as text on both databases: PostgreSQL's jsonb text is canonical, and psycopg
# would parse every one of them into objects only for most to be compared and thrown away.
_ROWS_SQL = """
SELECT p.agent_id, p.id, p.kind, p.created_at, r.check_id, r.resource, r.status, r.severity,
       r.message, {rules}, {evidence}, {said}
FROM reports p LEFT JOIN results r ON r.report_id = p.id
ORDER BY p.agent_id, p.created_at, p.id, r.id
"""


class _Value:
    """A result's value as read (status, severity, message and the JSON columns' text) and,
    made only when needed, its digest and state row."""

    __slots__ = ("_digest", "_texts", "jsonb", "raw")

    def __init__(self, raw: tuple[Any, ...], jsonb: bool) -> None:
        self.raw = raw
        self.jsonb = jsonb
        self._digest: str | None = None
        self._texts: tuple[str, str, str | None] | None = None

    def texts(self) -> tuple[str, str, str | None]:
        """The text the digest is made of, as the fold first written read it: SQLite's stored
        text as it is; on PostgreSQL the object psycopg made of the jsonb, written compact (a
        JSON null was None to it, so a ``said`` of null is no sentence there)."""
        if self._texts is None:
            rules, evidence, said = self.raw[3:6]
            if self.jsonb:
                rules, evidence = _compact(rules), _compact(evidence)
                said = None if said is None or said == "null" else _compact(said)
            self._texts = (rules, evidence, said)
        return self._texts

    def digest(self) -> str:
        if self._digest is None:
            rules, evidence, said = self.texts()
            self._digest = value_digest(*self.raw[:3], rules, evidence, said)
        return self._digest

    def same_as(self, other: _Value) -> bool:
        # Equal text is an equal value; unequal text may still be one (jsonb writes 1.10
        # where Python reads 1.1), and then the digests decide, as they did in the first fold.
        return self.raw == other.raw or self.digest() == other.digest()

    def state(
        self, agent_id: str, key: tuple[str, str], report_id: int, at: datetime.datetime
    ) -> dict[str, Any]:
        rules, evidence, said = self.texts()
        return {
            "agent_id": agent_id,
            "check_id": key[0],
            "resource": key[1],
            "status": self.raw[0],
            "severity": self.raw[1],
            "message": self.raw[2],
            "rules": json.loads(rules),
            "evidence": json.loads(evidence),
            "said": None if said is None else json.loads(said),
            "digest": self.digest(),
            "report_id": report_id,
            "observed_at": at,
            "ended_at": None,
            "apart": False,
        }


def _compact(text: str) -> str:
    return json.dumps(json.loads(text), separators=(",", ":"))


class _Host:
    """One host's fold so far: its open states (the value each was opened with, kept to
    compare, and the row to insert) and its newest full scan's time. (A plain class: Alembic
    loads a revision outside sys.modules, where a dataclass cannot resolve its annotations.)"""

    __slots__ = ("agent_id", "last_scan", "open")

    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.open: dict[tuple[str, str], tuple[_Value, dict[str, Any]]] = {}
        self.last_scan: datetime.datetime | None = None


def _fold_results() -> None:
    """Each host's reports in the order they were made: a full scan opens a state for every
    value that differs from the open one and ends the states it changed or left out; results
    of any other kind of report are kept apart (seen once).

    One query reads every row in that order, streamed; a row costs a tuple comparison with
    the open state's value, and only a value that opens a state is parsed, digested and
    written (in batches). First written host by host with every row parsed and digested:
    901,500 rows took 14 s of CPU on SQLite and 27 s on PostgreSQL (docs/PERFORMANCE.md,
    "Results retention and the 0023 migration"); tests/server/fold_reference.py keeps that
    fold, and tests/server/test_result_fold.py compares the two on the same rows."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    as_text = "CAST(r.{} AS TEXT)" if postgres else "r.{}"
    statement = _ROWS_SQL.format(
        rules=as_text.format("rules"),
        evidence=as_text.format("evidence"),
        said=as_text.format("said"),
    )
    states = _states_table()
    pending: list[dict[str, Any]] = []
    newest: list[dict[str, Any]] = []

    def finish(host: _Host) -> None:
        pending.extend(state for _value, state in host.open.values())
        if host.last_scan is not None:
            digest = scan_digest((c, r, v.digest()) for (c, r), (v, _s) in host.open.items())
            newest.append({"agent": host.agent_id, "digest": digest, "at": host.last_scan})

    def take(
        host: _Host, report: tuple[int, str, Any], current: dict[tuple[str, str], _Value]
    ) -> None:
        report_id, kind, created = report
        if kind != FULL_SCAN_KIND:
            for key, value in current.items():
                state = value.state(host.agent_id, key, report_id, created)
                pending.append({**state, "ended_at": created, "apart": True})
            return
        host.last_scan = created
        for key, value in current.items():
            before = host.open.get(key)
            if before is not None and before[0].same_as(value):
                continue
            if before is not None:
                before[1]["ended_at"] = created
                pending.append(before[1])
            host.open[key] = (value, value.state(host.agent_id, key, report_id, created))
        for key in [key for key in host.open if key not in current]:
            gone = host.open.pop(key)[1]
            gone["ended_at"] = created
            pending.append(gone)

    host: _Host | None = None
    report: tuple[int, str, Any] | None = None
    current: dict[tuple[str, str], _Value] = {}
    # Streamed (a server-side cursor on PostgreSQL) for this statement only: the batches are
    # inserted on the same connection while it is read.
    rows = bind.execute(
        sa.text(statement), execution_options={"stream_results": True, "yield_per": _BATCH}
    )
    for row in rows:
        if report is None or row[1] != report[0]:
            if host is not None and report is not None:
                take(host, report, current)
            current = {}
            if host is None or row[0] != host.agent_id:
                if host is not None:
                    finish(host)
                host = _Host(row[0])
            report = (row[1], row[2], _moment(row[3]))
        if row[4] is not None:  # None: a report without results
            current[(row[4], row[5])] = _Value(tuple(row[6:12]), postgres)
        if len(pending) >= _BATCH:
            bind.execute(states.insert(), pending)
            pending = []
    if host is not None and report is not None:
        take(host, report, current)
        finish(host)
    if pending:
        bind.execute(states.insert(), pending)
    bind.execute(
        sa.text("UPDATE reports SET in_states = :yes WHERE kind = :scan"),
        {"yes": True, "scan": FULL_SCAN_KIND},
    )
    if newest:
        bind.execute(
            sa.text(
                "UPDATE agents SET scan_digest = :digest, scan_observed_at = :at WHERE id = :agent"
            ).bindparams(sa.bindparam("at", type_=sa.DateTime())),
            newest,
        )


def downgrade() -> None:
    op.create_table(
        "results",
        sa.Column("id", _BIG_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "report_id",
            _BIG_ID,
            sa.ForeignKey("reports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "agent_id",
            sa.String(36),
            sa.ForeignKey("agents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("check_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("resource", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", _JSON, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("rules", _JSON, nullable=False),
        sa.Column("said", _JSON, nullable=True),
        sa.Column("observed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_results_report_id", "results", ["report_id"])
    op.create_index("ix_results_agent_check", "results", ["agent_id", "check_id", "observed_at"])
    # Every counted report again gets a row for each state open at its time; apart rows go
    # back to their own report.
    columns = "agent_id, check_id, status, resource, message, evidence, severity, rules, said"
    selected = ", ".join(f"s.{name}" for name in columns.split(", "))
    op.execute(
        f"INSERT INTO results (report_id, {columns}, observed_at) "
        f"SELECT p.id, {selected}, p.created_at FROM result_states s "
        "JOIN reports p ON p.agent_id = s.agent_id AND p.in_states "
        "AND p.created_at >= s.observed_at AND (s.ended_at IS NULL OR p.created_at < s.ended_at) "
        "WHERE NOT s.apart "
        f"UNION ALL SELECT s.report_id, {selected}, s.observed_at FROM result_states s "
        "WHERE s.apart AND EXISTS (SELECT 1 FROM reports p WHERE p.id = s.report_id)"
    )
    op.drop_index("ix_result_states_key", table_name="result_states")
    op.drop_index("ix_result_states_agent_open", table_name="result_states")
    op.drop_table("result_states")
    op.drop_index("ix_reports_agent_created", table_name="reports")
    # Plain ALTER TABLE (SQLite 3.35 and later has it): a batch copy of ``agents`` or
    # ``reports`` would drop the old table, and with foreign keys on that deletes every row
    # that cascades from it.
    op.execute("ALTER TABLE reports DROP COLUMN in_states")
    op.execute("ALTER TABLE agents DROP COLUMN scan_observed_at")
    op.execute("ALTER TABLE agents DROP COLUMN scan_digest")
