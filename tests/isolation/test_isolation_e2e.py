"""Host isolation end to end (POLICY.md I1; docs/incidents.md): a real ``xunjian server run``
(on loopback, reached from the lab's server namespace through a relay), a real ``xunjian agent
run`` in the host's namespace, and an "outside" web server in a third one
(tests/isolation/netns.py), with real nftables.

Before, the host and the outside reach each other. ``xunjian server host isolate`` -> the agent
isolates: the outside is unreachable from the host and cannot reach it, while the agent keeps
reporting to the server. Isolation survives an agent restart, also when the rules were lost
meanwhile (as on a reboot). ``release`` makes everything reachable again. The break-glass
``xunjian agent release-isolation`` (root) lifts it locally and the server learns who and why.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from agent.isolation.firewall import NFT_TABLE
from tests.harness import (
    FAST_AGENT,
    XUNJIAN,
    ServerUnderTest,
    free_port,
    option_value,
    run_cli,
    run_cli_here,
    wait_for,
)
from tests.isolation.netns import Lab, lab


@dataclass
class LabServer(ServerUnderTest):
    """The real server on loopback, given to agents at the lab's server address, where
    ``Lab.relay`` carries their connections to it."""

    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def init(self) -> str:
        # The real init (the certificate must name the lab's address, which the session's
        # copied template does not), by its main() in this process: it is this test's set-up,
        # not what it tests, and a new interpreter importing the server costs 1.5-2 s of CPU.
        words = ["server", "init", "--data", str(self.data), "--server-url", self.url]
        words += ["--hostname", self.host]
        if self.database_url:
            words += ["--database-url", self.database_url]
        self.init_output = run_cli_here(*words)
        return self.init_output


@dataclass
class Scene:
    network: Lab
    server: LabServer
    state: Path
    agent_log: Path
    outside_port: int
    host_port: int
    database: sqlalchemy.Engine
    agent: Any = None

    @property
    def agent_id(self) -> str:
        return str(json.loads((self.state / "agent.json").read_text())["agent_id"])

    def start_agent(self) -> None:
        self.agent = self.network.popen(
            self.network.host,
            *XUNJIAN,
            "agent",
            "run",
            "--state",
            str(self.state),
            log=str(self.agent_log),
        )

    def stop_agent(self) -> None:
        if self.agent is not None:
            self.agent.terminate()
            self.agent.wait(timeout=60)
            self.agent = None

    def reachability(self) -> dict[str, bool]:
        net = self.network
        probes = {
            "server": (net.host, net.server_address, self.server.port),
            "outside_from_host": (net.host, net.outside_address, self.outside_port),
            "host_from_outside": (net.outside, net.host_outside_address, self.host_port),
        }
        # The three probes at once: each is an interpreter started in a namespace, and while
        # isolated the probe from outside waits its whole 3 s for a connection the host's
        # input policy drops; one after the other, each reading cost all three starts plus it.
        with ThreadPoolExecutor(len(probes)) as pool:
            done = {name: pool.submit(net.connects, *probe) for name, probe in probes.items()}
            return {name: future.result() for name, future in done.items()}

    def isolation(self) -> dict[str, Any]:
        out = run_cli_here(
            "server", "host", "isolation", "--data", str(self.server.data), self.agent_id
        )
        return dict(json.loads(out))

    def wait_status(self, status: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            found = self.isolation()
            return found if found["status"] == status else None

        try:
            return dict(wait_for(f"isolation status {status}", reached, timeout=90))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nagent log:\n{self.agent_log.read_text()}") from exc

    def reports(self) -> int:
        with self.database.connect() as connection:
            return int(
                connection.execute(
                    sqlalchemy.text("SELECT COUNT(*) FROM reports WHERE agent_id = :a"),
                    {"a": self.agent_id},
                ).scalar()
            )

    def oplog_actions(self) -> list[str]:
        with self.database.connect() as connection:
            rows = connection.execute(
                sqlalchemy.text("SELECT action FROM oplog_entries ORDER BY seq")
            ).all()
        return [row[0] for row in rows]


OPEN = {"server": True, "outside_from_host": True, "host_from_outside": True}
ISOLATED = {"server": True, "outside_from_host": False, "host_from_outside": False}


@pytest.fixture
def scene(tmp_path: Path, database_url: str) -> Iterator[Scene]:
    with lab() as network:
        server = LabServer(
            tmp_path / "server", database_url=database_url, host=network.server_address
        )
        server.init()
        server.set_config(heartbeat_interval_seconds=1, scan_interval_seconds=3600)
        server.start()
        relay = network.relay(server.port)
        processes: list[Any] = []
        engine = sqlalchemy.create_engine(database_url)
        made = Scene(
            network,
            server,
            tmp_path / "agent",
            tmp_path / "agent.log",
            free_port(),
            free_port(),
            engine,
        )
        try:
            processes.append(
                network.popen(
                    network.outside,
                    sys.executable,
                    "-m",
                    "http.server",
                    "--bind",
                    network.outside_address,
                    str(made.outside_port),
                    log=str(tmp_path / "outside.log"),
                )
            )
            processes.append(
                network.popen(
                    network.host,
                    sys.executable,
                    "-m",
                    "http.server",
                    "--bind",
                    network.host_outside_address,
                    str(made.host_port),
                    log=str(tmp_path / "host-web.log"),
                )
            )
            enroll = server.create_token()
            done = network.run(
                network.host, *XUNJIAN, "agent", "enroll", "--state", str(made.state), *enroll
            )
            assert done.returncode == 0, done.stderr
            assert option_value(enroll, "--server") == server.url
            config_path = made.state / "agent.json"
            config = json.loads(config_path.read_text())
            assert config["server_command_key"], "enrollment pins the server's command key"
            empty_root = tmp_path / "empty-root"
            empty_root.mkdir()
            config.update(FAST_AGENT)
            config.update(
                allowed_commands=["scan_now", "isolate", "release"],
                scan_interval_seconds=3600,
                scan_root=str(empty_root),
                scan_in_process=True,
            )
            config_path.write_text(json.dumps(config))
            yield made
        finally:
            made.stop_agent()
            for process in processes:
                process.terminate()
                process.wait(timeout=30)
            relay.close()
            server.stop()
            engine.dispose()


def heartbeats_after(scene: Scene, moment: str | None) -> bool:
    found = scene.isolation().get("reported_at")
    return found is not None and (moment is None or found > moment)


def test_isolate_restart_release_and_break_glass(scene: Scene) -> None:
    data = str(scene.server.data)
    wait_for("the outside web servers", lambda: scene.reachability() == OPEN, timeout=60)
    scene.start_agent()
    wait_for("the agent's first report", lambda: scene.reports() >= 1, timeout=90)

    run_cli_here(
        "server", "host", "isolate", "--data", data, scene.agent_id, "--reason", "web shell"
    )
    isolated = scene.wait_status("isolated")
    assert isolated["backend"] == "nftables"
    assert (
        f"ip daddr {scene.network.server_address} tcp dport {scene.server.port} accept"
        in (isolated["rules"])
    )
    assert scene.reachability() == ISOLATED
    assert NFT_TABLE in scene.network.nft_tables(scene.network.host)

    # Still reporting: heartbeats go on, and a scan asked for now arrives as a report.
    before = scene.reports()
    api = scene.server.api_token()
    queued = scene.server.api(
        api, "POST", f"/api/v1/hosts/{scene.agent_id}/commands", {"type": "scan_now"}
    )
    assert queued.status == 201
    wait_for("a report from the isolated host", lambda: scene.reports() > before, timeout=90)
    seen = scene.isolation()["reported_at"]
    wait_for("a later heartbeat", lambda: heartbeats_after(scene, seen), timeout=30)

    # A restart, after the rules were lost as on a reboot: the agent puts them back first.
    scene.stop_agent()
    assert (
        scene.network.run(
            scene.network.host, "nft", "delete", "table", "inet", NFT_TABLE
        ).returncode
        == 0
    )
    assert scene.reachability() == OPEN
    scene.start_agent()
    wait_for(
        "the rules back after the restart",
        lambda: NFT_TABLE in scene.network.nft_tables(scene.network.host),
        timeout=60,
    )
    assert scene.reachability() == ISOLATED
    seen = scene.isolation()["reported_at"]
    wait_for("heartbeats after the restart", lambda: heartbeats_after(scene, seen), timeout=60)
    assert scene.isolation()["status"] == "isolated"

    run_cli_here("server", "host", "release", "--data", data, scene.agent_id, "--reason", "cleaned")
    scene.wait_status("released")
    assert scene.reachability() == OPEN
    assert NFT_TABLE not in scene.network.nft_tables(scene.network.host)

    # Break-glass: isolated again, then released by root on the host, without the server.
    run_cli_here("server", "host", "isolate", "--data", data, scene.agent_id, "--reason", "again")
    scene.wait_status("isolated")
    assert scene.reachability() == ISOLATED
    done = scene.network.run(
        scene.network.host,
        *XUNJIAN,
        "agent",
        "release-isolation",
        "--state",
        str(scene.state),
        "--reason",
        "the server is down",
    )
    assert done.returncode == 0, done.stderr
    assert scene.reachability() == OPEN
    local = scene.wait_status("released_locally")
    assert local["release_reason"] == "the server is down" and local["released_by"]

    # The operation log is written just after the heartbeat's transaction (server/isolation/
    # intake.py), so the status can be seen a moment before its entry.
    def logged() -> list[str] | None:
        found = scene.oplog_actions()
        return found if "agent.isolation.break_glass" in found else None

    actions = wait_for("the break-glass entry in the operation log", logged, timeout=30)
    assert actions.count("cli.host.isolate") == 2 and "cli.host.release" in actions
    status = run_cli("agent", "status", "--state", str(scene.state), "--json", check=False)
    assert json.loads(status.stdout)["isolation"]["state"] == "released_locally"
