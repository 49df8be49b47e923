"""What text and numbers a body may hold, decided once at the contract (xunjian/core/schema.py):
no NUL (PostgreSQL text cannot store one), no lone surrogate, no JSON nested past msgspec's
guard, no integer past 64 bits. Each is refused with 400 on every agent route, enroll included
(no credential needed), and on SQLite and PostgreSQL alike; nothing is written, never a 500.

Run with ``XUNJIAN_TEST_DATABASE_URL`` to see PostgreSQL's side (NUL gave 500 only there)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from server.files.models import FileEvent
from server.store.models import (
    Agent,
    EnrollmentToken,
    Inventory,
    LatestResult,
    Report,
    ResultState,
)
from tests.server.conftest import Server, SignedAgent
from xunjian.core.contract import PATH_ENROLL, PATH_HEARTBEAT, PATH_REPORTS
from xunjian.core.wire import public_key_to_text

TABLES = (Agent, Report, ResultState, Inventory, FileEvent, EnrollmentToken)
DEEP = 5000
HUGE = "1" + "0" * 3000


def counts(server: Server) -> dict[str, Any]:
    with server.state.sessions() as session:
        found: dict[str, Any] = {
            t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES
        }
        found["uses"] = sorted(session.scalars(select(EnrollmentToken.uses_left)).all())
    return found


def report_text(agent: SignedAgent, change: Callable[[dict[str, Any]], None]) -> str:
    document = agent.report()
    change(document)
    return json.dumps(document)


def with_nul_in_evidence(d: dict[str, Any]) -> None:
    # A passwd line with a NUL, as a collector read it from a damaged file.
    d["results"][0]["evidence"] = {"line": "toor:x:0:0:\x00:/root:/bin/sh"}


def with_nul_in_a_key(d: dict[str, Any]) -> None:
    d["inventory"]["x\x00y"] = 1


def with_nul_in_hostname(d: dict[str, Any]) -> None:
    d["inventory"]["hostname"] = "pc\x00101"


def with_nul_in_message(d: dict[str, Any]) -> None:
    d["results"][0]["message"] = "bad\x00line"


def with_nul_in_a_file_path(d: dict[str, Any]) -> None:
    d.update(
        kind="file_events",
        results=[],
        file_events=[
            {
                "action": "created",
                "path": "/srv/up/a\x00.php",
                "folder": "/srv/up",
                "folder_kind": "upload",
                "observed_at": d["created_at"],
            }
        ],
    )


REPORTS: dict[str, Callable[[SignedAgent], str]] = {
    "nul in evidence": lambda a: report_text(a, with_nul_in_evidence),
    "nul in an inventory key": lambda a: report_text(a, with_nul_in_a_key),
    "nul in the hostname": lambda a: report_text(a, with_nul_in_hostname),
    "nul in a message": lambda a: report_text(a, with_nul_in_message),
    "nul in a file path": lambda a: report_text(a, with_nul_in_a_file_path),
    "lone surrogate in a message": lambda a: report_text(
        a, lambda d: d["results"][0].update(message="x")
    ).replace('"message": "x"', '"message": "\\ud800"', 1),
    "lone low surrogate in evidence": lambda a: report_text(
        a, lambda d: d["results"][0].update(evidence={"k": "x"})
    ).replace('{"k": "x"}', '{"k": "\\udc80"}', 1),
    "nested deep in the inventory": lambda a: report_text(
        a, lambda d: d.update(inventory={"k": "DEEP"})
    ).replace('"DEEP"', "[" * DEEP + "]" * DEEP),
    "nested deep in evidence": lambda a: report_text(
        a, lambda d: d["results"][0].update(evidence={"k": "DEEP"})
    ).replace('"DEEP"', '{"a":' * DEEP + "1" + "}" * DEEP),
    "huge integer in the inventory": lambda a: report_text(
        a, lambda d: d["inventory"].update(memory="HUGE")
    ).replace('"HUGE"', HUGE),
    "integer past 64 bits in evidence": lambda a: report_text(
        a, lambda d: d["results"][0].update(evidence={"n": "HUGE"})
    ).replace('"HUGE"', str(2**64)),
    "huge integer as seq": lambda a: report_text(a, lambda d: d.update(seq="HUGE")).replace(
        '"HUGE"', HUGE
    ),
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_a_report_with_bad_text_or_numbers_is_a_400_that_writes_nothing(
    server: Server, agent: SignedAgent, name: str
) -> None:
    before = counts(server)
    answer = agent.signed("POST", PATH_REPORTS, REPORTS[name](agent).encode())
    assert answer.status_code == 400, (name, answer.status_code, answer.get_data(as_text=True))
    assert answer.get_json()["error"]
    assert counts(server) == before
    # The same agent's next good report is taken: nothing was left half done.
    assert agent.send_report(agent.report()).status_code == 200


def test_text_the_contract_allows_is_stored_as_sent(server: Server, agent: SignedAgent) -> None:
    """The refusals are narrow: other control characters, astral characters, escaped
    backslashes that merely look like NUL, and 64-bit integers are all fine."""
    document = agent.report()
    document["results"][0]["message"] = "tab\there, bell\x07, emoji \U0001f600, \\u0000 as text"
    document["inventory"]["inode"] = 2**63 - 1
    document["inventory"]["delta"] = -(2**63)
    answer = agent.send_report(document)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with server.state.sessions() as session:
        messages = session.scalars(select(ResultState.message)).all()
        inventory = session.scalars(select(Inventory.data)).one()
    assert document["results"][0]["message"] in messages
    stored = inventory if isinstance(inventory, dict) else json.loads(inventory)
    assert (stored["inode"], stored["delta"]) == (2**63 - 1, -(2**63))


# Text that a JSON document carrying the rows (server/intake/report.py ``_pg_rows``) must carry
# through unchanged: quotes, backslashes, an escape that is only text, line breaks, astral and
# CJK characters, and evidence whose own keys and values hold the same.
AWKWARD = 'say "hi" \\ C:\\Temp\\ \\u0041 \n 巡检 \U0001f600 {"not": json}'


def test_awkward_text_reaches_the_states_and_latest_rows_as_sent(
    server: Server, agent: SignedAgent
) -> None:
    """A host's first report (all rows written) and a report changing that result (one row
    written) keep every text, the evidence, the rules and what was said, on both tables."""
    for message in [AWKWARD, AWKWARD + " again"]:
        document = agent.report()
        result = document["results"][0]
        result["message"] = message
        result["resource"] = 'user:"o\\brien" 巡检'
        result["evidence"] = {AWKWARD: [AWKWARD, 2**63 - 1, -1.5, None, True, {"k": ""}]}
        result["message_id"] = "bench.awkward"
        result["params"] = {"text": AWKWARD}
        answer = agent.send_report(document)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        sent = (
            result["resource"],
            message,
            result["evidence"],
            result["rules"],
            {"id": "bench.awkward", "params": {"text": AWKWARD}},
        )
        with server.state.sessions() as session:
            state = session.scalars(
                select(ResultState)
                .where(ResultState.check_id == result["check_id"])
                .order_by(ResultState.id.desc())
            ).first()
            latest = session.scalars(
                select(LatestResult).where(LatestResult.check_id == result["check_id"])
            ).one()
        for row in (state, latest):
            assert row is not None
            stored = (row.resource, row.message, row.evidence, row.rules, row.said)
            assert stored == sent


def enroll_text(server: Server, hostname: str = "pc-101") -> str:
    return json.dumps(
        {
            "token": server.enrollment_token(),
            "public_key": public_key_to_text(Ed25519PrivateKey.generate().public_key()),
            "hostname": hostname,
            "platform": "linux",
            "os": "Debian GNU/Linux 12",
            "agent_version": "0.1.0",
        }
    )


ENROLLMENTS: dict[str, Callable[[Server], str]] = {
    "nul in the hostname": lambda s: enroll_text(s, "pc\x00101"),
    "lone surrogate in the hostname": lambda s: enroll_text(s, "HOST").replace(
        '"HOST"', '"pc\\ud800"'
    ),
    "nested deep": lambda s: enroll_text(s, "HOST").replace('"HOST"', "[" * DEEP + "]" * DEEP),
    "huge integer": lambda s: enroll_text(s, "HOST").replace('"HOST"', HUGE),
}


@pytest.mark.parametrize("name", list(ENROLLMENTS))
def test_enrollment_with_bad_text_is_a_400_that_spends_no_token(server: Server, name: str) -> None:
    text = ENROLLMENTS[name](server)
    before = counts(server)
    answer = server.client().post(
        PATH_ENROLL, data=text.encode(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, (name, answer.status_code, answer.get_data(as_text=True))
    assert counts(server) == before


@pytest.mark.parametrize(
    "text",
    [
        '{"spool_depth": HUGE, "last_seq": 1, "epoch": 1, "acked_commands": []}',
        '{"spool_depth": 0, "last_seq": 1, "epoch": 1, "acked_commands": ["\\u0000"]}',
        '{"spool_depth": 0, "last_seq": 1, "epoch": 1, "acked_commands": ["\\ud800"]}',
        '{"spool_depth": 0, "last_seq": 1, "epoch": 1, "acked_commands": DEEP}',
    ],
)
def test_a_heartbeat_with_bad_text_or_numbers_is_a_400(
    server: Server, agent: SignedAgent, text: str
) -> None:
    body = text.replace("HUGE", HUGE).replace("DEEP", "[" * DEEP + "]" * DEEP)
    answer = agent.signed("POST", PATH_HEARTBEAT, body.encode())
    assert answer.status_code == 400, answer.get_data(as_text=True)


@pytest.mark.parametrize("field", ["name", "keyword"])
def test_a_monitor_with_nul_in_its_text_is_refused_by_api_and_console(
    server: Server, field: str
) -> None:
    from server.monitors.models import Monitor
    from tests.monitors.test_console import form, person
    from tests.server.test_api import api_token, bearer

    body = {"url": "http://192.0.2.1/", field: "school\x00home"}
    answer = server.client().post("/api/v1/monitors", json=body, headers=bearer(api_token(server)))
    assert answer.status_code == 400, answer.get_data(as_text=True)
    assert "NUL" in answer.get_json()["error"]
    olga = person(server, "olga", "operator")
    refused = form(olga, "/monitors", "/monitors", **body)
    assert refused.status_code == 400, refused.status_code
    with server.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Monitor)) == 0
