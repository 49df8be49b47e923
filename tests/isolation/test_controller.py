"""The isolation controller with the real Linux firewall in a network namespace of the test's
own (tests/isolation/netns.py): the ``before_isolation`` hook runs before any rule exists (the
evidence snapshot sees the scene untouched) and cannot stop an isolation by failing; a server
that does not answer through the new rules gets its rules taken back and the isolation reported
failed; restore puts an isolation's rules back from the record alone."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.isolation.controller import IsolationController
from agent.isolation.firewall import NFT_TABLE, LinuxFirewall
from agent.state import AgentConfig, AgentState
from tests.isolation.netns import Lab, lab
from tests.isolation.test_firewall import Listener
from xunjian.core.wire import public_key_to_text, sign_command

KEY = Ed25519PrivateKey.generate()
AGENT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


@pytest.fixture
def network() -> Iterator[Lab]:
    with lab() as made:
        yield made


@pytest.fixture
def server(network: Lab) -> Iterator[Listener]:
    listener = Listener(network.listen())
    yield listener
    listener.close()


def controller(tmp_path: Path, network: Lab, server: Listener) -> IsolationController:
    directory = tmp_path / "state"
    directory.mkdir(mode=0o700)
    config = AgentConfig(
        server_url=f"https://{network.server_address}:{server.port}",
        agent_id=AGENT_ID,
        group="default",
        ca_sha256="0" * 64,
        enrolled_at="2026-12-07T08:00:00Z",
        allowed_commands=["scan_now", "isolate", "release"],
        server_command_key=public_key_to_text(KEY.public_key()),
    )
    return IsolationController(AgentState(directory), config, LinuxFirewall())


def run(
    network: Lab, isolation: IsolationController, kind: str, generation: int, answers: object
) -> None:
    command_id = f"00000000-0000-4000-8000-{generation:012d}"
    signature = sign_command(KEY, AGENT_ID, command_id, kind, generation)
    network.inside(
        network.host,
        lambda: isolation.run_command(command_id, kind, generation, signature, answers),  # type: ignore[arg-type]
    )


def test_the_hook_sees_the_scene_before_any_rule_and_cannot_stop_isolation(
    tmp_path: Path, network: Lab, server: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolation = controller(tmp_path, network, server)
    seen: list[str] = []

    def snapshot(command_id: str) -> None:
        seen.append(command_id)
        seen.append(network.nft_tables(network.host))
        raise RuntimeError("the snapshot failed")

    isolation.before_isolation = snapshot

    def answers() -> None:  # the server answers through the rules (in the host namespace)
        socket.create_connection((network.server_address, server.port), timeout=5).close()

    run(network, isolation, "isolate", 1, answers)
    assert len(seen) == 2 and NFT_TABLE not in seen[1]
    assert seen[0] == f"00000000-0000-4000-8000-{1:012d}"  # the isolate command's id
    record = json.loads(isolation.record_path.read_text())
    assert record["state"] == "isolated" and record["backend"] == "nftables"
    assert record["link"] == {"addresses": [network.server_address], "port": server.port}
    assert NFT_TABLE in network.nft_tables(network.host)

    # A reboot loses the rules; restore puts them back from the record alone.
    assert network.run(network.host, "nft", "delete", "table", "inet", NFT_TABLE).returncode == 0
    network.inside(network.host, isolation.restore)
    assert NFT_TABLE in network.nft_tables(network.host)

    run(network, isolation, "release", 2, answers)
    assert json.loads(isolation.record_path.read_text())["state"] == "released"
    assert NFT_TABLE not in network.nft_tables(network.host)
    trail = (isolation.state.directory / "isolation-events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in trail] == ["isolated", "restored", "released"]


def test_a_server_that_does_not_answer_through_the_rules_gets_them_taken_back(
    tmp_path: Path, network: Lab, server: Listener
) -> None:
    isolation = controller(tmp_path, network, server)

    def answers() -> None:
        # Another port of the server's address: the rules drop it, as they would drop a server
        # that moved; the agent must not strand the host.
        socket.create_connection((network.server_address, server.port + 1), timeout=3).close()

    run(network, isolation, "isolate", 1, answers)
    record = json.loads(isolation.record_path.read_text())
    assert record["state"] == "failed" and "rules taken back" in record["error"]
    assert NFT_TABLE not in network.nft_tables(network.host)
    assert network.connects(network.host, network.server_address, server.port)


def test_break_glass_removes_the_rules_and_says_who(
    tmp_path: Path, network: Lab, server: Listener
) -> None:
    isolation = controller(tmp_path, network, server)

    def answers() -> None:
        socket.create_connection((network.server_address, server.port), timeout=5).close()

    run(network, isolation, "isolate", 1, answers)
    record = network.inside(network.host, lambda: isolation.break_glass("phone call"))
    assert record.state == "released_locally" and record.reason == "phone call"
    assert record.released_by
    assert NFT_TABLE not in network.nft_tables(network.host)
    assert isolation.report() is not None
    assert isolation.report()["state"] == "released_locally"  # type: ignore[index]
