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


def _fold_results() -> None:
    """Each host's reports in the order they were made: a full scan opens a state for every
    value that differs from the open one and ends the states it changed or left out; results
    of any other kind of report are kept apart (seen once)."""
    bind = op.get_bind()
    states = _states_table()
    agent_ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM agents ORDER BY id"))]
    pending: list[dict[str, Any]] = []
    for agent_id in agent_ids:
        rows = bind.execute(
            sa.text(
                "SELECT p.id, p.kind, p.created_at, r.check_id, r.resource, r.status, "
                "r.severity, r.message, r.rules, r.evidence, r.said "
                "FROM reports p LEFT JOIN results r ON r.report_id = p.id "
                "WHERE p.agent_id = :agent ORDER BY p.created_at, p.id, r.id"
            ),
            {"agent": agent_id},
        ).all()
        open_states: dict[tuple[str, str], dict[str, Any]] = {}
        counted: list[int] = []
        last_scan: tuple[str, Any] | None = None
        index = 0
        while index < len(rows):
            report_id, kind, created = rows[index][0], rows[index][1], _moment(rows[index][2])
            current: dict[tuple[str, str], dict[str, Any]] = {}
            while index < len(rows) and rows[index][0] == report_id:
                row = rows[index]
                index += 1
                if row[3] is None:
                    continue  # a report without results
                rules, evidence = _text(row[8]), _text(row[9])
                said = None if row[10] is None else _text(row[10])
                current[(row[3], row[4])] = {
                    "agent_id": agent_id,
                    "check_id": row[3],
                    "resource": row[4],
                    "status": row[5],
                    "severity": row[6],
                    "message": row[7],
                    "rules": json.loads(rules),
                    "evidence": json.loads(evidence),
                    "said": None if said is None else json.loads(said),
                    "digest": value_digest(row[5], row[6], row[7], rules, evidence, said),
                    "report_id": report_id,
                    "observed_at": created,
                    "ended_at": None,
                    "apart": False,
                }
            if kind != FULL_SCAN_KIND:
                for state in current.values():
                    pending.append({**state, "ended_at": created, "apart": True})
                continue
            counted.append(report_id)
            for key, state in current.items():
                before = open_states.get(key)
                if before is not None and before["digest"] == state["digest"]:
                    continue
                if before is not None:
                    before["ended_at"] = created
                    pending.append(before)
                open_states[key] = state
            for key in [key for key in open_states if key not in current]:
                gone = open_states.pop(key)
                gone["ended_at"] = created
                pending.append(gone)
            last_scan = (
                scan_digest((c, r, s["digest"]) for (c, r), s in current.items()),
                created,
            )
        pending.extend(open_states.values())
        for start in range(0, len(counted), _BATCH):
            bind.execute(
                sa.text("UPDATE reports SET in_states = :yes WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"yes": True, "ids": counted[start : start + _BATCH]},
            )
        if last_scan is not None:
            bind.execute(
                sa.text(
                    "UPDATE agents SET scan_digest = :digest, scan_observed_at = :at "
                    "WHERE id = :agent"
                ).bindparams(sa.bindparam("at", type_=sa.DateTime())),
                {"digest": last_scan[0], "at": last_scan[1], "agent": agent_id},
            )
        if len(pending) >= _BATCH:
            bind.execute(states.insert(), pending)
            pending = []
    if pending:
        bind.execute(states.insert(), pending)


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
