"""The agent's side of isolation commands (agent/isolation/controller.py): the command key it
pins, and the commands that change nothing: signed by another server's key, meant for another
agent, unsigned, replayed (a generation not above the one kept), or not allowed by the host's
own agent.json (that one is reported as failed, with the reason). The real firewall is tested
in network namespaces (tests/isolation); here it must not even be called."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.isolation.controller import RECORD_NAME
from agent.isolation.firewall import AppliedRules, ServerLink
from agent.service import RunningAgent, build_service
from agent.state import AgentConfig, AgentState, StateError
from agent.transport import ServerUrl, Transport, Unreachable, Untrusted, pinned_context
from tests.agent.agent_testkit import LoopbackServer, ScriptedApi, make_ca
from tests.agent.test_agent_runner import FakeScan
from xunjian.core.wire import public_key_to_text, sign_command

pytest_plugins = ["tests.agent.test_agent_runner"]


class MustNotTouch:
    """The firewall of a test where no command may get as far as the packet filter."""

    def apply(self, link: ServerLink) -> AppliedRules:
        raise AssertionError(f"the firewall was asked to isolate ({link})")

    def remove(self) -> None:
        raise AssertionError("the firewall was asked to release")

    def present(self) -> bool:
        return False


SERVER_KEY = Ed25519PrivateKey.generate()


@pytest.fixture
def isolating(state: AgentState, api: ScriptedApi, scan: FakeScan) -> Iterator[RunningAgent]:
    api.command_key = public_key_to_text(SERVER_KEY.public_key())
    config = json.loads(state.config_path.read_text())
    config["allowed_commands"] = ["scan_now", "isolate", "release"]
    state.config_path.write_text(json.dumps(config))
    running = build_service(state, scanner=scan)
    assert running.service.isolation is not None
    running.service.isolation.firewall = MustNotTouch()
    running.service.heartbeat()  # pins the command key
    try:
        yield running
    finally:
        running.close()


def command(
    agent_id: str, kind: str, generation: int, key: Ed25519PrivateKey = SERVER_KEY
) -> dict[str, Any]:
    command_id = str(uuid.uuid4())
    signature = sign_command(key, agent_id, command_id, kind, generation)
    return {"id": command_id, "type": kind, "generation": generation, "signature": signature}


def test_the_first_heartbeat_pins_the_command_key_and_nothing_replaces_it(
    state: AgentState, api: ScriptedApi, scan: FakeScan
) -> None:
    first = public_key_to_text(SERVER_KEY.public_key())
    running = build_service(state, scanner=scan)
    try:
        running.service.heartbeat()
        assert json.loads(state.config_path.read_text()).get("server_command_key") is None
        api.command_key = first
        running.service.heartbeat()
        assert json.loads(state.config_path.read_text())["server_command_key"] == first
        api.command_key = public_key_to_text(Ed25519PrivateKey.generate().public_key())
        running.service.heartbeat()
        assert json.loads(state.config_path.read_text())["server_command_key"] == first
        assert running.service.config.server_command_key == first
    finally:
        running.close()


def test_commands_that_change_nothing(
    isolating: RunningAgent, api: ScriptedApi, state: AgentState
) -> None:
    agent_id = isolating.service.config.agent_id
    other_server = Ed25519PrivateKey.generate()
    unsigned = command(agent_id, "isolate", 1)
    del unsigned["signature"]
    api.commands = [
        command(agent_id, "isolate", 1, key=other_server),
        command(str(uuid.uuid4()), "isolate", 1),  # signed for another agent
        {**command(agent_id, "isolate", 1), "generation": 2},  # generation changed on the way
        unsigned,
    ]
    isolating.service.heartbeat()
    assert not (state.directory / RECORD_NAME).exists()
    assert "isolation" not in api.heartbeats[-1]


def test_a_replayed_or_older_command_changes_nothing(
    isolating: RunningAgent, api: ScriptedApi, state: AgentState
) -> None:
    record = {"state": "released", "generation": 5, "changed_at": "2026-12-07T08:00:00Z"}
    (state.directory / RECORD_NAME).write_text(json.dumps(record))
    agent_id = isolating.service.config.agent_id
    api.commands = [command(agent_id, "isolate", 5), command(agent_id, "isolate", 4)]
    isolating.service.heartbeat()
    assert json.loads((state.directory / RECORD_NAME).read_text()) == record
    sent = [beat["isolation"] for beat in api.heartbeats if "isolation" in beat]
    assert [report["state"] for report in sent] == ["released"]  # once: it did not change
    isolating.service.heartbeat()
    assert "isolation" not in api.heartbeats[-1]


def test_an_authentic_command_the_host_does_not_allow_is_reported_failed(
    isolating: RunningAgent, api: ScriptedApi, state: AgentState
) -> None:
    isolating.service.config.allowed_commands = ["scan_now"]
    api.commands = [command(isolating.service.config.agent_id, "isolate", 1)]
    isolating.service.heartbeat()
    record = json.loads((state.directory / RECORD_NAME).read_text())
    assert record["state"] == "failed" and "allowed_commands" in record["error"]
    reported = api.heartbeats[-1]["isolation"]
    assert reported["state"] == "failed" and reported["generation"] == 1


def test_allowed_commands_are_checked_locally(tmp_path: Path) -> None:
    identity = {
        "server_url": "https://10.0.0.5:8443",
        "agent_id": "a",
        "group": "g",
        "ca_sha256": "0" * 64,
        "enrolled_at": "now",
    }
    # Isolation is never allowed by default (the host's installer decides); evidence is.
    assert AgentConfig.from_dict(identity).allowed_commands == ["scan_now", "evidence"]
    AgentConfig.from_dict({**identity, "allowed_commands": ["scan_now", "isolate", "release"]})
    with pytest.raises(StateError, match="must allow release"):
        AgentConfig.from_dict({**identity, "allowed_commands": ["isolate"]})
    with pytest.raises(StateError, match="unknown"):
        AgentConfig.from_dict({**identity, "allowed_commands": ["isolate_host"]})


def test_a_pinned_address_needs_no_dns_and_still_checks_the_name(tmp_path: Path) -> None:
    # ".invalid" never resolves (RFC 6761): only the pinned address can reach this server.
    named = make_ca(server_names=("xunjian-server.invalid",))
    running = LoopbackServer(named, tmp_path, route=ScriptedApi(named.cert_pem)).start()
    try:
        transport = Transport(
            ServerUrl("xunjian-server.invalid", running.port, ""), pinned_context(named.cert_pem)
        )
        with pytest.raises(Unreachable):
            transport.request("GET", "/api/v1/agent/ca", signed=False)
        transport.pin_address("127.0.0.1")
        assert transport.request("GET", "/api/v1/agent/ca", signed=False).status == 200
        # The name is still what the certificate must show: another name on the same address
        # is refused.
        other = Transport(
            ServerUrl("other.invalid", running.port, ""), pinned_context(named.cert_pem)
        )
        other.pin_address("127.0.0.1")
        with pytest.raises(Untrusted):
            other.request("GET", "/api/v1/agent/ca", signed=False)
        transport.close()
        other.close()
    finally:
        running.stop()
