"""The fold of migration 0023_result_state as it was first written (host by host, in Python),
kept as the reference its set-based replacement is compared with
(tests/server/test_result_fold.py). It reads a database at revision 0022_console and returns
what the migration wrote instead of writing it: the states in the order they were inserted,
the reports it counted, and each host's newest full scan's digest and time."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server.store.states import scan_digest, value_digest

FULL_SCAN_KIND = "scan"


@dataclass
class Folded:
    states: list[dict[str, Any]]
    counted: set[int]
    last_scans: dict[str, tuple[str, datetime.datetime]]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _moment(value: Any) -> datetime.datetime:
    return value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(value)


def fold(bind: sa.Connection) -> Folded:
    """The original ``_fold_results``, line for line, collecting instead of inserting."""
    agent_ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM agents ORDER BY id"))]
    pending: list[dict[str, Any]] = []
    counted_all: set[int] = set()
    last_scans: dict[str, tuple[str, datetime.datetime]] = {}
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
        counted_all.update(counted)
        if last_scan is not None:
            last_scans[agent_id] = last_scan
    return Folded(states=pending, counted=counted_all, last_scans=last_scans)
