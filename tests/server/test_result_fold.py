"""Migration 0023_result_state folds the old per-report result rows into states from one
streamed query, parsing and digesting only the values that open a state;
tests/server/fold_reference.py is the fold as first written, which parsed and digested every
row. On the same rows (at revision 0022_console) both must write the same states in the same
order (the weekly report takes the newest id in force), count the same reports and find the
same newest scan per host. SQLite and, with XUNJIAN_TEST_DATABASE_URL, PostgreSQL (where
jsonb hands back text that differs from what Python made of it: a null sentence, 1.10)."""

from __future__ import annotations

import datetime
import json
import random
import uuid
from collections import Counter
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select, text

from server.store.engine import make_engine
from server.store.migrate import alembic_config
from server.store.models import Agent, Report, ResultState
from tests.server.fold_reference import Folded, fold

START = datetime.datetime(2026, 3, 2, 8, 0, 0, 250000)
KEYS = [("c.one", "host"), ("c.two", "host"), ("c.user", "user:root"), ("c.user", "user:kim")]
KEYS += [("c.disk", "sdb"), ("c.six", "host")]
VALUES = [
    ("pass", "low", "fine", '["E8"]', '{"n": 1}', None),
    # A sentence of JSON null (what the store wrote for "no sentence"), and numbers written two
    # ways: jsonb keeps 1.10 as written, Python reads both as 1.1.
    ("pass", "low", "fine", '["E8"]', '{"n": 1.10}', "null"),
    ("pass", "low", "fine", '["E8"]', '{"n": 1.1}', "null"),
    ("fail", "high", "not fine", '["E8", "E16"]', '{"n": 2, "list": ["a", "b"]}', None),
    ("fail", "high", "not fine", '["E8", "E16"]', '{"n": 3}', None),  # only evidence differs
    ("fail", "high", "not fine", '["E8", "E16"]', '{"n": 3}', '{"id": "m.x", "params": {}}'),
    ("error", "medium", "扫描超时", '["E4"]', '{"seconds": 30, "note": "证据"}', None),
]


def _histories(rng: random.Random) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Reports and results of a few hosts in the 0022 schema, with what the fold must get
    right: values that come back (A, B, A), keys that go and come, full scans without
    results, partial reports (of another kind) between and at the same time as scans, two
    reports made at the same moment (ordered by id), and a key listed twice in one report
    (the last one counts)."""
    reports: list[tuple[Any, ...]] = []
    results: list[tuple[Any, ...]] = []
    report_id = 0
    for host in range(7):
        agent_id = str(uuid.UUID(int=host + 1))
        moment = START
        for number in range(45 if host < 6 else 4):
            report_id += 1
            if rng.random() > 0.2:  # most reports a while after the one before; some at once
                moment += datetime.timedelta(minutes=rng.randint(1, 600))
            kind = "scan" if rng.random() < 0.8 else "spot_check"
            if host == 5:
                kind = "spot_check"  # a host that only ever sent partial reports
            keys = [key for key in KEYS if rng.random() < 0.85]
            if number % 13 == 7:
                keys = []  # a report without results
            rows = [(key, rng.choice(VALUES[: 3 + host % 5])) for key in keys]
            if rows and rng.random() < 0.15:
                rows.append((rows[0][0], rng.choice(VALUES)))  # listed twice: the last counts
            reports.append((report_id, agent_id, 1, report_id, kind, moment, moment, 1, len(rows)))
            for (check_id, resource), value in rows:
                status, severity, message, rules, evidence, said = value
                results.append(
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
                        moment,
                    )
                )
    return reports, results


def _fill(engine: Any, seed: int) -> None:
    reports, results = _histories(random.Random(seed))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO groups (id, name, policy, policy_version, created_at) "
                "VALUES (1, 'default', '{}', 1, :at)"
            ),
            {"at": START},
        )
        connection.execute(
            text(
                "INSERT INTO agents (id, public_key, hostname, os, platform, agent_version, "
                "group_id, enrolled_at, os_version, os_build) VALUES (:id, 'k', :id, '', "
                "'linux', '0', 1, :at, '', '')"
            ),
            [{"id": str(uuid.UUID(int=host + 1)), "at": START} for host in range(8)],
        )
        connection.execute(
            text(
                "INSERT INTO reports (id, agent_id, epoch, seq, kind, created_at, received_at, "
                "policy_version, result_count) VALUES (:id, :agent, :epoch, :seq, :kind, :at, "
                ":received, :policy, :count)"
            ),
            [
                dict(
                    zip(
                        ("id", "agent", "epoch", "seq", "kind", "at", "received", "policy"),
                        row[:8],
                        strict=True,
                    ),
                    count=row[8],
                )
                for row in reports
            ],
        )
        connection.execute(
            text(
                "INSERT INTO results (report_id, agent_id, check_id, status, resource, message, "
                "evidence, severity, rules, said, observed_at) VALUES (:report, :agent, :check, "
                ":status, :resource, :message, :evidence, :severity, :rules, :said, :at)"
            ),
            [
                dict(
                    zip(
                        (
                            "report",
                            "agent",
                            "check",
                            "status",
                            "resource",
                            "message",
                            "evidence",
                            "severity",
                            "rules",
                            "said",
                            "at",
                        ),
                        row,
                        strict=True,
                    )
                )
                for row in results
            ],
        )


def _key(state: dict[str, Any]) -> tuple[Any, ...]:
    return (
        state["agent_id"],
        state["check_id"],
        state["resource"],
        state["status"],
        state["severity"],
        state["message"],
        json.dumps(state["rules"], sort_keys=True),
        json.dumps(state["evidence"], sort_keys=True),
        json.dumps(state["said"], sort_keys=True),
        state["digest"],
        state["report_id"],
        state["observed_at"],
        state["ended_at"],
        bool(state["apart"]),
    )


def _per_subject(states: list[dict[str, Any]]) -> dict[tuple[str, str, str], list[tuple]]:
    subjects: dict[tuple[str, str, str], list[tuple]] = {}
    for state in states:
        subject = (state["agent_id"], state["check_id"], state["resource"])
        subjects.setdefault(subject, []).append(_key(state))
    return subjects


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_streamed_fold_gives_what_the_first_fold_gave(database_url: str, seed: int) -> None:
    engine = make_engine(database_url)
    try:
        command.upgrade(alembic_config(engine), "0022_console")
        _fill(engine, seed)
        with engine.connect() as connection:
            expected: Folded = fold(connection)
        command.upgrade(alembic_config(engine), "0023_result_state")
        with engine.connect() as connection:
            stored = [
                {column: getattr(state, column) for column in _columns()}
                for state in connection.execute(select(ResultState).order_by(ResultState.id))
            ]
            counted = set(
                connection.scalars(select(Report.id).where(Report.in_states.is_(True))).all()
            )
            newest = {
                row.id: (row.scan_digest, row.scan_observed_at)
                for row in connection.execute(select(Agent))
            }
    finally:
        engine.dispose()
    # The rows exercise what they should: states that ended, open ones, apart ones, and a
    # value that came back after another.
    kinds = Counter(
        "apart" if s["apart"] else ("open" if s["ended_at"] is None else "ended")
        for s in expected.states
    )
    assert min(kinds["apart"], kinds["open"], kinds["ended"]) >= 10, kinds
    came_back = [
        values
        for values in _per_subject(expected.states).values()
        if len({value[9] for value in values}) < len([v for v in values if not v[13]])
    ]
    assert came_back
    assert Counter(map(_key, stored)) == Counter(map(_key, expected.states))
    assert _per_subject(stored) == _per_subject(expected.states)
    # Written in the same order too, so every id is what it was.
    assert [_key(state) for state in stored] == [_key(state) for state in expected.states]
    assert counted == expected.counted
    assert {agent: value for agent, value in newest.items() if value[0] is not None} == (
        expected.last_scans
    )
    assert len(expected.last_scans) == 6  # the host of partial reports and the silent one: none


def _columns() -> tuple[str, ...]:
    return (
        "agent_id",
        "check_id",
        "resource",
        "status",
        "severity",
        "message",
        "rules",
        "evidence",
        "said",
        "digest",
        "report_id",
        "observed_at",
        "ended_at",
        "apart",
    )
