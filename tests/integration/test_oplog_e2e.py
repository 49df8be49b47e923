"""The operation log through a real server process (POLICY.md E12): enrollments and refusals are
recorded with the client's address and source port, `xunjian server oplog verify` passes on the
intact log and names the first bad entry once a row is edited in the database."""

from __future__ import annotations

import json

import sqlalchemy

from tests.harness import ServerUnderTest, enroll_simulated, option_value, run_cli
from xunjian.core.contract import PATH_REPORTS


def _entries(engine: sqlalchemy.Engine) -> list[dict]:
    with engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text(
                "SELECT seq, actor, action, target, outcome, client_address, client_port "
                "FROM oplog_entries ORDER BY seq"
            )
        )
        return [dict(row._mapping) for row in rows]


def test_enrollment_and_refusals_are_logged_and_the_log_verifies(
    server: ServerUnderTest, database: sqlalchemy.Engine
) -> None:
    token = option_value(server.create_token(), "--token")
    agent = enroll_simulated(server, token, "lab-pc")
    # A refused report: signed by the agent, but the body was changed after signing.
    body = json.dumps({"agent_id": agent.agent_id}).encode()
    headers = agent.signed("POST", PATH_REPORTS, body)
    answer = server.request("POST", PATH_REPORTS, body + b" ", headers)
    assert answer.status == 401

    entries = _entries(database)
    enrolled = [e for e in entries if e["action"] == "agent.enroll" and e["outcome"] == "ok"]
    assert enrolled and enrolled[0]["target"] == f"agent:{agent.agent_id}"
    refused = [e for e in entries if e["outcome"] == "refused"]
    assert refused, entries
    for entry in enrolled + refused:
        assert entry["client_address"] == "127.0.0.1"
        assert entry["client_port"] and 0 < entry["client_port"] < 65536

    verified = run_cli("server", "oplog", "verify", "--data", str(server.data), check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "intact" in verified.stdout

    victim = enrolled[0]["seq"]
    with database.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE oplog_entries SET actor = 'someone-else' WHERE seq = :seq"),
            {"seq": victim},
        )
    damaged = run_cli("server", "oplog", "verify", "--data", str(server.data), check=False)
    assert damaged.returncode == 1, damaged.stdout + damaged.stderr
    assert f"first bad entry: {victim}" in damaged.stdout
