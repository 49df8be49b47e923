"""Host isolation on the server (docs/incidents.md): requests from the API, the console and the
command line; signed commands with generations in the heartbeat; the agents' reports; the
isolated state on the host page, the hosts list, the dashboard and the alerts; the operation
log's entries with the reason."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from werkzeug.test import TestResponse

from server.alerts.channels import parse_channels
from server.alerts.delivery import Deliverer, queue_notifications
from server.oplog.models import OplogEntry
from server.store.isolation import view
from server.store.models import Command, HostIsolation
from tests.data_folder import run_xunjian
from tests.server.conftest import Server, SignedAgent
from tests.server.test_api import api_token, bearer
from tests.server.test_console import csrf_from
from tests.server.test_fleet import page, person, report
from xunjian.core.contract import PATH_HEARTBEAT
from xunjian.core.wire import SignatureError, public_key_from_text, verify_command


def isolate(
    server: Server, token: str, host: str, action: str = "isolate", reason: str = "web shell"
) -> TestResponse:
    return server.client().post(
        f"/api/v1/hosts/{host}/isolation",
        json={"action": action, "reason": reason},
        headers=bearer(token),
    )


def beat(agent: SignedAgent, acked: list[str], isolation: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"spool_depth": 0, "epoch": agent.epoch, "acked_commands": acked}
    if isolation is not None:
        body["isolation"] = isolation
    answer = agent.signed("POST", PATH_HEARTBEAT, json.dumps(body).encode())
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return dict(answer.get_json())


def reported(state: str, generation: int, **more: Any) -> dict[str, Any]:
    return {
        "state": state,
        "generation": generation,
        "changed_at": "2026-12-07T08:00:00Z",
        "backend": "nftables",
        "rules": "table inet xunjian_isolation { }",
        **more,
    }


def entries(server: Server, prefix: str) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(
            session.scalars(
                select(OplogEntry)
                .where(OplogEntry.action.startswith(prefix))
                .order_by(OplogEntry.seq)
            )
        )


def test_enrollment_and_heartbeat_hand_out_the_command_key(server: Server) -> None:
    agent = SignedAgent(server, Ed25519PrivateKey.generate(), "")
    answer = agent.enroll(server.enrollment_token())
    assert answer.status_code == 201
    key = answer.get_json()["command_key"]
    agent.agent_id = answer.get_json()["agent_id"]
    public_key_from_text(key)
    assert beat(agent, [], None)["command_key"] == key
    assert (server.data / "command-signing.key").stat().st_mode & 0o777 == 0o600


def test_isolation_through_the_api_is_signed_reported_and_shown(
    server: Server, agent: SignedAgent
) -> None:
    token = api_token(server)
    report(agent, ("accounts.uid0_extra", "fail"))  # an alert of this host
    answer = isolate(server, token, agent.agent_id)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    queued = answer.get_json()
    assert queued["generation"] == 1 and queued["action"] == "isolate"

    first = beat(agent, [], None)
    [command] = first["commands"]
    assert command["type"] == "isolate" and command["generation"] == 1
    key = public_key_from_text(first["command_key"])
    verify_command(key, agent.agent_id, command["id"], "isolate", 1, command["signature"])
    # The signature binds agent, command, type and generation: change one, it fails.
    for wrong in (
        (agent.agent_id, command["id"], "release", 1),
        (agent.agent_id, command["id"], "isolate", 2),
        ("00000000-0000-0000-0000-000000000000", command["id"], "isolate", 1),
    ):
        try:
            verify_command(key, *wrong, command["signature"])
        except SignatureError:
            continue
        raise AssertionError(f"a signature verified for {wrong}")

    state = server.client().get(f"/api/v1/hosts/{agent.agent_id}/isolation", headers=bearer(token))
    assert state.get_json()["status"] == "isolating"

    beat(agent, [command["id"]], reported("isolated", 1, command_id=command["id"]))
    state = server.client().get(f"/api/v1/hosts/{agent.agent_id}/isolation", headers=bearer(token))
    assert state.get_json()["status"] == "isolated"
    assert state.get_json()["rules"].startswith("table inet xunjian_isolation")

    admin = person(server, "ada", "admin")
    host_page = page(admin, f"/hosts/{agent.agent_id}")
    assert 'data-isolation="isolated"' in host_page and "web shell" in host_page
    assert "isolation-release" in host_page  # the release button, not the isolate one
    listed = page(admin, "/hosts?status=isolated")
    assert agent.agent_id in listed and 'data-isolation="isolated"' in listed
    assert 'data-count="isolated"><span class="fleet-number fleet-warn">1</span>' in page(
        admin, "/"
    )
    assert 'data-isolation="isolated"' in page(admin, "/alerts")

    made = entries(server, "api.host.isolate")
    assert [(e.actor, e.outcome) for e in made] == [("admin", "ok")]
    assert json.loads(made[0].details)["reason"] == "web shell"
    assert [json.loads(e.details)["state"] for e in entries(server, "agent.isolation")] == [
        "isolated"
    ]


def test_refusals(server: Server, agent: SignedAgent) -> None:
    token = api_token(server)
    auditor = api_token(server, "audrey", "auditor")
    assert isolate(server, auditor, agent.agent_id).status_code == 403
    assert isolate(server, token, agent.agent_id, reason="").status_code == 400
    assert isolate(server, token, agent.agent_id, reason="x" * 501).status_code == 400
    assert isolate(server, token, agent.agent_id, action="reboot").status_code == 400
    assert isolate(server, token, "00000000-0000-0000-0000-000000000000").status_code == 404
    assert isolate(server, token, agent.agent_id, action="release").status_code == 409
    assert isolate(server, token, agent.agent_id).status_code == 201
    assert isolate(server, token, agent.agent_id).status_code == 409  # isolating already
    refused = [e.outcome for e in entries(server, "api.host.") if e.outcome == "refused"]
    assert len(refused) >= 4


def test_a_newer_request_takes_back_the_pending_one(server: Server, agent: SignedAgent) -> None:
    token = api_token(server)
    assert isolate(server, token, agent.agent_id).status_code == 201
    assert (
        isolate(server, token, agent.agent_id, action="release", reason="mistake").status_code
        == 201
    )
    [command] = beat(agent, [], None)["commands"]
    assert (command["type"], command["generation"]) == ("release", 2)
    with server.state.sessions() as session:
        assert session.scalar(select(Command).where(Command.type == "isolate")).acked_at


def test_break_glass_release_is_logged_when_reported(server: Server, agent: SignedAgent) -> None:
    token = api_token(server)
    assert isolate(server, token, agent.agent_id).status_code == 201
    [command] = beat(agent, [], None)["commands"]
    beat(agent, [command["id"]], reported("isolated", 1))
    glass = reported("released_locally", 1, released_by="root (sudo by li)", reason="no server")
    beat(agent, [], glass)
    beat(agent, [], glass)  # repeated with every heartbeat: one entry only
    [entry] = entries(server, "agent.isolation.break_glass")
    assert entry.actor == f"agent:{agent.agent_id}"
    assert json.loads(entry.details)["released_by"] == "root (sudo by li)"
    state = server.client().get(f"/api/v1/hosts/{agent.agent_id}/isolation", headers=bearer(token))
    assert state.get_json()["status"] == "released_locally"
    admin = person(server, "ada", "admin")
    assert "isolation-isolate" in page(admin, f"/hosts/{agent.agent_id}")
    # An older generation reported late changes nothing.
    beat(agent, [], reported("isolated", 0))
    state = server.client().get(f"/api/v1/hosts/{agent.agent_id}/isolation", headers=bearer(token))
    assert state.get_json()["status"] == "released_locally"
    # The next isolation continues above the agent's generation.
    assert isolate(server, token, agent.agent_id).get_json()["generation"] == 2


def test_console_form_and_roles(server: Server, agent: SignedAgent) -> None:
    operator = person(server, "olga", "operator")
    auditor = person(server, "audrey", "auditor")
    path = f"/hosts/{agent.agent_id}/isolation"
    assert "isolation-isolate" in page(operator, f"/hosts/{agent.agent_id}")
    assert "isolation-isolate" not in page(auditor, f"/hosts/{agent.agent_id}")
    data = {"action": "isolate", "reason": "defaced page"}
    denied = auditor.post(path, data={**data, "csrf_token": csrf_from(auditor, "/hosts")})
    assert denied.status_code == 403
    empty = operator.post(
        path, data={"action": "isolate", "reason": " ", "csrf_token": csrf_from(operator, "/hosts")}
    )
    assert empty.status_code == 400
    done = operator.post(path, data={**data, "csrf_token": csrf_from(operator, "/hosts")})
    assert done.status_code == 302 and "isolation=isolate" in done.headers["Location"]
    [entry] = [e for e in entries(server, "console.host.isolate") if e.outcome == "ok"]
    assert entry.actor == "olga" and json.loads(entry.details)["reason"] == "defaced page"
    assert 'data-isolation="isolating"' in page(operator, f"/hosts/{agent.agent_id}")


def test_command_line(server: Server, agent: SignedAgent) -> None:
    data = str(server.data)
    status, out, err = run_xunjian(
        "server", "host", "isolate", "--data", data, agent.agent_id, "--reason", "ransomware"
    )
    assert status == 0, err
    assert "generation 1" in out
    status, out, _err = run_xunjian("server", "host", "isolation", "--data", data)
    assert agent.agent_id in out and "isolating" in out and "ransomware" in out
    status, _out, err = run_xunjian(
        "server", "host", "release", "--data", data, "nope", "--reason", "x"
    )
    assert status == 1 and "no such host" in err
    [entry] = [e for e in entries(server, "cli.host.isolate")]
    assert entry.actor.startswith("cli:") and json.loads(entry.details)["reason"] == "ransomware"


@pytest.mark.parametrize(
    ("wanted", "reported", "reported_generation", "error", "status"),
    [
        ("isolated", None, None, "", "isolating"),
        ("isolated", "released", 1, "", "isolating"),  # the agent has not seen generation 2
        ("isolated", "isolated", 2, "", "isolated"),
        ("isolated", "isolated", 2, "re-applying the rules at start failed", "failed"),
        ("isolated", "failed", 2, "not in allowed_commands", "failed"),
        ("released", "isolated", 1, "", "releasing"),
        ("released", "released", 2, "", "released"),
        ("released", "isolated", 2, "the rules were not removed", "failed"),
        ("released", None, None, "", "released"),
        ("isolated", "released_locally", 2, "", "released_locally"),
    ],
)
def test_the_status_reads_the_request_against_the_report(
    wanted: str, reported: str | None, reported_generation: int | None, error: str, status: str
) -> None:
    row = HostIsolation(
        agent_id="a",
        wanted=wanted,
        generation=2,
        reason="r",
        requested_by="ada",
        reported_state=reported,
        reported_generation=reported_generation,
        error=error,
    )
    assert view(row).status == status


class Hook:
    """A webhook receiver on 127.0.0.1 that keeps every body it gets."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        [self.channel] = parse_channels(
            [
                {
                    "name": "hook",
                    "kind": "webhook",
                    "settings": {
                        "url": f"http://127.0.0.1:{self.http.server_address[1]}/hook",
                        "allow_http": True,
                    },
                }
            ]
        )


def test_the_alerts_of_an_isolated_host_say_so_when_sent(
    server: Server, agent: SignedAgent
) -> None:
    hook = Hook()
    try:
        engine = server.state.engine
        report(agent, ("accounts.uid0_extra", "fail"))
        assert queue_notifications(engine, (hook.channel,)) == 1
        assert Deliverer(engine, (hook.channel,)).deliver_due().sent == 1
        assert isolate(server, api_token(server), agent.agent_id).status_code == 201
        report(agent, ("accounts.uid0_extra", "fail"), ("password.max_age", "fail"))
        assert queue_notifications(engine, (hook.channel,)) == 1
        assert Deliverer(engine, (hook.channel,)).deliver_due().sent == 1
    finally:
        hook.http.shutdown()
        hook.http.server_close()
    before, after = (body["alert"]["body"] for body in hook.bodies)
    assert "isolated" not in before["en"] and "隔离" not in before["zh"]
    assert after["en"].endswith("(the host is isolated from the network)")
    assert after["zh"].endswith("（该主机已断网隔离）")


def test_the_open_incident_of_the_host_records_isolation_and_release(
    server: Server, agent: SignedAgent
) -> None:
    token = api_token(server)
    opened = server.client().post(
        "/api/v1/incidents",
        json={"host_id": agent.agent_id, "title": "defaced front page"},
        headers=bearer(token),
    )
    assert opened.status_code == 201, opened.get_data(as_text=True)
    incident = opened.get_json()["id"]
    assert isolate(server, token, agent.agent_id, reason="web shell in uploads").status_code == 201
    [command] = beat(agent, [], None)["commands"]
    beat(agent, [command["id"]], reported("isolated", 1))
    beat(agent, [], reported("isolated", 1))  # the same report again adds nothing
    glass = reported("released_locally", 1, released_by="root (sudo by li)", reason="no server")
    beat(agent, [], glass)
    record = server.client().get(f"/api/v1/incidents/{incident}", headers=bearer(token))
    timeline = [
        (event["kind"], event["text"])
        for event in record.get_json()["timeline"]
        if event["kind"] in ("isolated", "released")
    ]
    assert [kind for kind, _ in timeline] == ["isolated", "isolated", "released"], timeline
    assert "web shell in uploads" in timeline[0][1]
    assert "nftables" in timeline[1][1]
    assert "root (sudo by li)" in timeline[2][1] and "no server" in timeline[2][1]
