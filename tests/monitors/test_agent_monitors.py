"""End to end: a monitor run by an agent (an internal-only site). ``xunjian server run`` and
``xunjian agent run`` are real processes; the page is a real web server on loopback that only
the agent is told about (``xunjian server monitor add URL --agent ID``). The agent fetches it
with the server's own fetch code and posts the outcomes; the server judges them: a defaced
page raises exactly one tamper alert, and the server's scheduler never fetches the page
(every request the site saw is a result the agent delivered).

Also here, with the agent's monitor runner driven step by step against a real server: what
happens while the server is unreachable (the latest outcome waits, older ones are dropped and
counted), and that an agent whose host does not allow monitors never asks for them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.enroll import enroll
from agent.monitors.runner import MonitorRunner
from agent.service import build_service
from agent.state import AgentState
from agent.transport import Identity, Transport, parse_server_url, pinned_context
from tests.harness import AgentUnderTest, ServerUnderTest, option_value, run_cli, wait_for
from tests.monitors.conftest import LOOPBACK_ALLOWED
from tests.monitors.site import DEFACED, Site, home


@pytest.fixture
def running(
    tmp_path: Path, database_url: str, data_folder_templates: object
) -> Iterator[ServerUnderTest]:
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    # The site is on 127.0.0.1: allowed for the server too, as one test moves the monitor
    # from the agent to the server.
    server.set_config(workers=2, monitor_threads=4, **LOOPBACK_ALLOWED)
    server.start()
    yield server
    server.stop()


def open_alerts(server: ServerUnderTest, token: str) -> list[dict[str, Any]]:
    """The open alerts of page monitors (the agent's scans raise their own)."""
    answer = server.api(token, "GET", "/api/v1/alerts?status=open")
    assert answer.status == 200
    return [alert for alert in answer.json()["alerts"] if alert["monitor"] is not None]


def test_an_agent_watches_a_site_only_it_is_told_about(
    running: ServerUnderTest, tmp_path: Path, site: Site
) -> None:
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(running.create_token())
    # The agent's scans read an empty host tree: this test is about its monitors.
    (tmp_path / "host").mkdir()
    agent.tune(
        run_monitors=True,
        monitor_allowed_networks=["127.0.0.0/8"],
        monitor_refresh_seconds=1,
        scan_interval_seconds=3600,
        scan_root=str(tmp_path / "host"),
    )
    token = running.api_token()
    added = run_cli(
        *("server", "monitor", "add", site.url(), "--data", str(running.data)),
        *("--agent", agent.agent_id, "--interval", "5", "--fail-threshold", "2"),
        *("--volatile", "#counter"),
    )
    assert f"run by agent {agent.agent_id}" in added.stdout
    assert site.hits == 0  # the server did not fetch it for a baseline
    listed = run_cli("server", "monitor", "list", "--data", str(running.data)).stdout
    assert agent.agent_id in listed
    [monitor] = running.api(token, "GET", "/api/v1/monitors").json()["monitors"]
    assert monitor["run_by"]["kind"] == "agent" and monitor["agent_id"] == agent.agent_id
    path = f"/api/v1/monitors/{monitor['id']}"

    def total() -> int:
        return int(running.api(token, "GET", f"{path}/history").json()["total"])

    agent.start()
    try:
        wait_for("two checks by the agent", lambda: total() >= 2, timeout=90)
        seen = running.api(token, "GET", path).json()
        assert seen["state"] == "up", seen
        assert seen["baseline"]["accepted_by"] == "first good check"
        assert seen["last_result"]["agent_id"] == agent.agent_id

        site.serve("/", DEFACED)
        wait_for(
            "a tamper alert",
            lambda: any(alert["kind"] == "tamper" for alert in open_alerts(running, token)),
        )
        defaced_at = total()
        wait_for("three more checks of the defaced page", lambda: total() >= defaced_at + 3)
        tampers = [
            alert
            for alert in running.api(token, "GET", "/api/v1/alerts").json()["alerts"]
            if alert["kind"] == "tamper"
        ]
        assert len(tampers) == 1, tampers
        assert tampers[0]["monitor"]["id"] == monitor["id"]
        assert "hacked by" in tampers[0]["message"].lower()

        site.serve("/", home())
        wait_for("the tamper alert to resolve", lambda: open_alerts(running, token) == [])
        # Every request the site saw came from the agent and was delivered as a result: the
        # server's scheduler (two processes) never fetched the page. At most one agent check
        # may be in flight between the two readings.
        before = total()
        hits = site.hits
        after = total()
        assert before <= hits <= after + 1, (before, hits, after)
    finally:
        agent.stop()
    assert "Traceback" not in agent.log(), agent.log()[-3000:]


def in_process_runner(
    server: ServerUnderTest, tmp_path: Path, **tuning: Any
) -> tuple[MonitorRunner, str]:
    """An enrolled agent's monitor runner in this process, talking to the real server."""
    words = server.create_token()
    state = AgentState(tmp_path / "agent")
    config = enroll(
        state.directory,
        option_value(words, "--server"),
        option_value(words, "--token"),
        option_value(words, "--ca-sha256"),
    )
    for name, value in tuning.items():
        setattr(config, name, value)
    transport = Transport(
        parse_server_url(config.server_url),
        pinned_context(state.load_ca_pem()),
        Identity(config.agent_id, state.load_key()),
        timeout=10,
    )
    return MonitorRunner(transport, config), config.agent_id


def test_outcomes_wait_while_the_server_is_unreachable(
    running: ServerUnderTest, tmp_path: Path, site: Site
) -> None:
    runner, agent_id = in_process_runner(
        running,
        tmp_path,
        run_monitors=True,
        monitor_allowed_networks=["127.0.0.0/8"],
        backoff_base_seconds=0.01,
        backoff_cap_seconds=0.01,
    )
    token = running.api_token()
    added = running.api(
        token, "POST", "/api/v1/monitors", {"url": site.url(), "agent_id": agent_id}
    )
    assert added.status == 201
    monitor_id = added.json()["id"]
    [spec] = runner.refresh() or []
    assert spec.id == monitor_id

    running.stop()
    for _ in range(3):
        runner.check_now(spec)  # fetched; the outcome cannot be delivered
    assert site.hits == 3
    assert runner.waiting == 1 and runner.dropped(monitor_id) == 2
    # The list is kept while the server is away.
    assert runner.refresh() is None and runner.specs == [spec]

    running.start()
    wait_for("the backoff to allow a try", runner.backoff.ready, timeout=5)
    assert runner.deliver() == 1
    assert runner.waiting == 0 and runner.dropped(monitor_id) == 0
    path = f"/api/v1/monitors/{monitor_id}"
    seen = running.api(token, "GET", path).json()
    assert seen["state"] == "up" and seen["last_result"]["dropped_before"] == 2
    assert running.api(token, "GET", f"{path}/history").json()["total"] == 1
    assert "dropped 2 older outcome(s)" in running.log()

    # Taken off this agent: the next list is empty, and a late outcome is refused (403).
    running.api(token, "PATCH", path, {"agent_id": None})
    assert runner.refresh() == []
    runner.check_now(spec)
    assert runner.waiting == 0
    assert running.api(token, "GET", f"{path}/history").json()["total"] == 1


def test_an_agent_runs_monitors_only_where_its_host_allows(
    running: ServerUnderTest, tmp_path: Path, site: Site
) -> None:
    """Without ``run_monitors`` in agent.json the agent never asks for its monitors (nor
    fetches a page); with it, it does. The host decides, not the server."""
    from agent.schedule import Scheduler

    words = running.create_token()
    state = AgentState(tmp_path / "agent")
    enroll(
        state.directory,
        option_value(words, "--server"),
        option_value(words, "--token"),
        option_value(words, "--ca-sha256"),
    )
    token = running.api_token()
    agent_id = state.load_config().agent_id
    added = running.api(
        token, "POST", "/api/v1/monitors", {"url": site.url(), "agent_id": agent_id}
    )
    assert added.status == 201

    def jobs(run_monitors: bool) -> set[str]:
        config = json.loads(state.config_path.read_text())
        config["run_monitors"] = run_monitors
        state.config_path.write_text(json.dumps(config))
        agent = build_service(state, scanner=lambda _checks: ([], {}))
        scheduler = Scheduler()
        try:
            agent.service.schedule(scheduler)
            scheduler.start(paused=True)  # the jobs are made, none runs
            return {job.id for job in scheduler.get_jobs()}
        finally:
            scheduler.shutdown(wait=False)
            agent.close()

    assert not {"monitor_list", "monitors"} & jobs(run_monitors=False)
    assert {"monitor_list", "monitors"} <= jobs(run_monitors=True)
    assert site.hits == 0
    seen = running.api(token, "GET", f"/api/v1/monitors/{added.json()['id']}").json()
    assert seen["last_checked_at"] is None and seen["last_result_age_seconds"] is None
