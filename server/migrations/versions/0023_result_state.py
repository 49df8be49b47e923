"""result_states: the history of results as states, not one row per report (issue 15)

A full scan whose results equal the host's latest ones writes no result rows any more: the
history keeps one row per value a (host, check, resource) had, from the scan that first
reported it to the scan that changed it (``result_states``); the agent's row keeps the digest
and time of its newest full scan; ``reports.in_states`` marks the full scans that count for
the states open at their time. The old ``results`` rows are folded into states here, as if
each host's reports were taken in the order they were made (one statement in the database,
``_STATES_SQL``), and the table is dropped.

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


# The states, worked out by the database in one statement (gaps and islands). A host's full
# scans are numbered in the order they were made (``n``); a report's last row for each (check,
# resource) is the one that counts, as a dict keyed by it kept the last. Rows of one (host,
# check, resource) ordered by ``n`` form islands: a row opens one unless the row before it is
# from the host's previous scan with the same value. An island is a state: it opens at its
# first scan and ends at the scan after its last (NULL when there is none, still open). The
# value is compared as the stored text (jsonb's canonical text on PostgreSQL), which is what
# the digest is made of. Results of any other kind of report are states apart.
# ``turn_at, turn_id`` is the report at which the fold host by host appended each state (an
# apart state at its report, a state at the scan that ended it, open states last): ids are
# handed out in that order, so the weekly report's "newest id in force" reads as before.
_STATES_SQL = """
WITH scans AS (
    SELECT id, agent_id, created_at,
           ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY created_at, id) AS n,
           LEAD(created_at) OVER (PARTITION BY agent_id ORDER BY created_at, id) AS next_at,
           LEAD(id) OVER (PARTITION BY agent_id ORDER BY created_at, id) AS next_id
    FROM reports WHERE kind = :scan
),
picked AS (
    SELECT id, report_id, check_id, resource, status, severity, message,
           CAST(rules AS TEXT) AS rules_text, CAST(evidence AS TEXT) AS evidence_text,
           CAST(said AS TEXT) AS said_text,
           ROW_NUMBER() OVER (PARTITION BY report_id, check_id, resource ORDER BY id DESC) AS k
    FROM results
),
seen AS (
    SELECT s.agent_id, r.check_id, r.resource, s.n, s.id AS report_id, s.created_at,
           s.next_at, s.next_id, r.id AS result_id,
           CASE WHEN LAG(s.n) OVER w = s.n - 1
                 AND LAG(r.status) OVER w = r.status AND LAG(r.severity) OVER w = r.severity
                 AND LAG(r.message) OVER w = r.message
                 AND LAG(r.rules_text) OVER w = r.rules_text
                 AND LAG(r.evidence_text) OVER w = r.evidence_text
                 AND LAG(r.said_text) OVER w {same} r.said_text
                THEN 0 ELSE 1 END AS opens
    FROM picked r JOIN scans s ON s.id = r.report_id
    WHERE r.k = 1
    WINDOW w AS (PARTITION BY s.agent_id, r.check_id, r.resource ORDER BY s.n)
),
marked AS (
    SELECT agent_id, check_id, resource, report_id, created_at, next_at, next_id, result_id,
           opens,
           SUM(opens) OVER (PARTITION BY agent_id, check_id, resource ORDER BY n
                            ROWS UNBOUNDED PRECEDING) AS island,
           CASE WHEN LEAD(opens) OVER (PARTITION BY agent_id, check_id, resource ORDER BY n) = 0
                THEN 0 ELSE 1 END AS closes
    FROM seen
),
islands AS (
    SELECT agent_id,
           MAX(CASE WHEN opens = 1 THEN result_id END) AS result_id,
           MAX(CASE WHEN opens = 1 THEN report_id END) AS report_id,
           MAX(CASE WHEN opens = 1 THEN created_at END) AS observed_at,
           MAX(CASE WHEN closes = 1 THEN next_at END) AS ended_at,
           MAX(CASE WHEN closes = 1 THEN next_id END) AS ended_id
    FROM marked
    GROUP BY agent_id, check_id, resource, island
),
states AS (
    SELECT i.agent_id, i.result_id, i.report_id, i.observed_at, i.ended_at, 0 AS apart,
           CASE WHEN i.ended_at IS NULL THEN 1 ELSE 0 END AS still_open,
           i.ended_at AS turn_at, i.ended_id AS turn_id
    FROM islands i
    UNION ALL
    SELECT p.agent_id, r.id, p.id, p.created_at, p.created_at, 1, 0, p.created_at, p.id
    FROM picked r JOIN reports p ON p.id = r.report_id
    WHERE r.k = 1 AND p.kind <> :scan
)
SELECT st.agent_id, r.check_id, r.resource, r.status, r.severity, r.message, r.rules,
       r.evidence, r.said, st.report_id, st.observed_at, st.ended_at, st.apart
FROM states st JOIN results r ON r.id = st.result_id
ORDER BY st.agent_id, st.still_open, st.turn_at, st.turn_id
"""

_LAST_SCANS_SQL = """
SELECT agent_id, created_at FROM (
    SELECT agent_id, created_at,
           ROW_NUMBER() OVER (PARTITION BY agent_id ORDER BY created_at DESC, id DESC) AS k
    FROM reports WHERE kind = :scan
) newest WHERE k = 1
"""


def _fold_results() -> None:
    """Fold the old rows into states, as if each host's reports were taken in the order they
    were made: a full scan opens a state for every value that differs from the open one and
    ends the states it changed or left out; results of any other kind of report are kept
    apart (seen once).

    The database works the states out in one statement (``_STATES_SQL``); Python only
    computes each state's digest (server/store/states.py, the one intake computes) and writes
    the states in batches. It was first written host by host in Python, which read every old
    row into Python: 901,500 rows took 26 s on SQLite and 76 s on PostgreSQL
    (docs/PERFORMANCE.md, "Results retention and the 0023 migration").
    tests/server/test_result_fold.py compares the two on the same rows."""
    bind = op.get_bind()
    states = _states_table()
    same = "IS NOT DISTINCT FROM" if bind.dialect.name == "postgresql" else "IS"
    scan = {"scan": FULL_SCAN_KIND}
    open_values: dict[str, list[tuple[str, str, str]]] = {}
    pending: list[dict[str, Any]] = []
    # Streamed (a server-side cursor on PostgreSQL), for this statement only: the batches are
    # inserted on the same connection while it is read, which a server-side cursor cannot do.
    result = bind.execute(
        sa.text(_STATES_SQL.format(same=same)),
        scan,
        execution_options={"stream_results": True, "yield_per": _BATCH},
    )
    for row in result:
        (agent_id, check_id, resource, status, severity, message) = row[:6]
        rules, evidence = _text(row[6]), _text(row[7])
        said = None if row[8] is None else _text(row[8])
        digest = value_digest(status, severity, message, rules, evidence, said)
        ended = None if row[11] is None else _moment(row[11])
        pending.append(
            {
                "agent_id": agent_id,
                "check_id": check_id,
                "resource": resource,
                "status": status,
                "severity": severity,
                "message": message,
                "rules": json.loads(rules),
                "evidence": json.loads(evidence),
                "said": None if said is None else json.loads(said),
                "digest": digest,
                "report_id": row[9],
                "observed_at": _moment(row[10]),
                "ended_at": ended,
                "apart": bool(row[12]),
            }
        )
        if ended is None:  # open after the host's newest scan: that scan's values
            open_values.setdefault(agent_id, []).append((check_id, resource, digest))
        if len(pending) >= _BATCH:
            bind.execute(states.insert(), pending)
            pending = []
    if pending:
        bind.execute(states.insert(), pending)
    bind.execute(
        sa.text("UPDATE reports SET in_states = :yes WHERE kind = :scan"), {"yes": True, **scan}
    )
    newest = [
        {
            "agent": agent_id,
            "digest": scan_digest(open_values.get(agent_id, ())),
            "at": _moment(created),
        }
        for agent_id, created in bind.execute(sa.text(_LAST_SCANS_SQL), scan)
    ]
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
