"""Commands that change the server's state are operation log entries too (POLICY.md E12):
``xunjian server token create``, ``user add``, ``apitoken create``, ``agent revoke`` and
``agent rebaseline``, run for real (in this process), each append an entry with the operating
system user as actor, role ``cli``, a target, no secret; refusals are entries as well, and the
chain still verifies with ``xunjian server oplog verify``."""

from __future__ import annotations

import getpass
import json

from sqlalchemy import select

from server.oplog.models import OplogEntry
from tests.harness import parse_printed_secret
from tests.server.conftest import Server, SignedAgent, run_xunjian

ACTOR = f"cli:{getpass.getuser()}"


def entries(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(session.scalars(select(OplogEntry).order_by(OplogEntry.seq)))


def xunjian(server: Server, *words: str) -> tuple[int, str, str]:
    return run_xunjian("server", *words[:2], "--data", str(server.data), *words[2:])


def test_each_state_changing_command_is_an_entry(server: Server, agent: SignedAgent) -> None:
    before = len(entries(server))
    status, out, err = xunjian(server, "token", "create", "--uses", "3", "--group", "lab")
    assert status == 0, err
    enroll_token = out.split("--token ")[1].split()[0]
    status, out, err = xunjian(server, "user", "add", "olga", "--role", "operator")
    assert status == 0, err
    password = parse_printed_secret(out)
    status, out, err = xunjian(server, "apitoken", "create", "--user", "olga", "--name", "cron")
    assert status == 0, err
    api_token = parse_printed_secret(out)
    status, _out, err = xunjian(server, "agent", "rebaseline", agent.agent_id)
    assert status == 0, err
    status, _out, err = xunjian(server, "agent", "revoke", agent.agent_id)
    assert status == 0, err
    status, out, err = xunjian(server, "agent", "revoke", agent.agent_id)
    assert status == 0 and "already revoked" in out, err

    new = entries(server)[before:]
    assert [(e.action, e.target, e.outcome) for e in new] == [
        ("cli.enrollment_token.create", "group:lab", "ok"),
        ("cli.user.create", "user:olga", "ok"),
        ("cli.api_token.create", "user:olga", "ok"),
        ("cli.agent.rebaseline", f"agent:{agent.agent_id}", "ok"),
        ("cli.agent.revoke", f"agent:{agent.agent_id}", "ok"),
        ("cli.agent.revoke", f"agent:{agent.agent_id}", "ok"),
    ]
    for entry in new:
        assert (entry.actor, entry.role) == (ACTOR, "cli")
        # Run on the server itself: no network peer.
        assert (entry.client_address, entry.client_port) == ("", None)
        for secret in (enroll_token, password, api_token):
            assert secret not in entry.details and secret not in entry.target
    details = [json.loads(entry.details) for entry in new]
    assert details[0] == {
        "group": "lab",
        "uses": 3,
        "expires_seconds": 24 * 3600,
        "prefix": enroll_token[:12],
    }
    assert details[1] == {"role": "operator"}
    assert details[2] == {"name": "cron", "role": "operator", "prefix": api_token[:12]}
    assert details[3] == {"baseline_rows_forgotten": 0}
    assert details[4] == {"already_revoked": False}
    assert details[5] == {"already_revoked": True}

    status, out, err = run_xunjian("server", "oplog", "verify", "--data", str(server.data))
    assert status == 0 and "operation log intact" in out, err


def test_refusals_are_entries_and_change_nothing(server: Server) -> None:
    before = len(entries(server))
    status, _out, err = xunjian(server, "user", "add", "admin", "--role", "auditor")
    assert status == 1 and "already exists" in err
    status, _out, err = xunjian(server, "apitoken", "create", "--user", "nobody")
    assert status == 1 and "no user 'nobody'" in err
    status, _out, err = xunjian(server, "agent", "revoke", "not-an-id")
    assert status == 1 and "is not an agent id" in err
    missing = "00000000-0000-4000-8000-000000000000"
    status, _out, err = xunjian(server, "agent", "rebaseline", missing)
    assert status == 1 and f"no agent {missing}" in err

    new = entries(server)[before:]
    assert [(e.action, e.target, e.outcome) for e in new] == [
        ("cli.user.create", "user:admin", "refused"),
        ("cli.api_token.create", "user:nobody", "refused"),
        ("cli.agent.revoke", "agent:not-an-id", "refused"),
        ("cli.agent.rebaseline", f"agent:{missing}", "refused"),
    ]
    assert "already exists" in new[0].reason
    assert all(entry.actor == ACTOR for entry in new)
    status, out, err = run_xunjian("server", "oplog", "verify", "--data", str(server.data))
    assert status == 0, out + err


def test_a_command_whose_entry_cannot_be_written_says_so(server: Server) -> None:
    with server.state.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM oplog_head")
    status, out, err = xunjian(server, "user", "add", "olga", "--role", "operator")
    # The account exists (its password is shown once), and the missing entry is reported.
    assert status == 1
    assert "One-time password" in out
    assert "done, but the operation log entry cli.user.create could not be written" in err
