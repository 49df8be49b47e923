"""The runner's units of work against a real HTTPS server on 127.0.0.1 (scripted answers, real
TLS and signatures): scan -> spool -> send, outages, refusals, heartbeats and commands."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from agent.enroll import enroll
from agent.scanning import ScanOutcome
from agent.service import RunningAgent, build_service
from agent.spool import Gap
from agent.state import AgentState
from agent.transport import ServerUrl, Transport, pinned_context
from tests.agent.agent_testkit import LoopbackServer, ScriptedApi, ThrowawayCA
from xunjian.core.wire import certificate_sha256

RESULT = {
    "check_id": "accounts.uid0_extra",
    "status": "fail",
    "resource": "user:toor",
    "message": "account toor has UID 0",
    "evidence": {"uid": 0},
    "rules": ["E8", "E16"],
    "severity": "high",
}
INVENTORY = {"hostname": "pc-101", "os": "Debian GNU/Linux 12", "addresses": []}
REPORT_FIELDS = {
    "agent_id", "epoch", "seq", "kind", "created_at", "policy_version", "results", "inventory",
    "gaps",
}  # fmt: skip


class FakeScan:
    """Records the policy each scan was given; returns one fixed result and the inventory."""

    def __init__(self) -> None:
        self.calls: list[Mapping[str, Mapping[str, Any]] | None] = []

    def __call__(self, policy_checks: Mapping[str, Mapping[str, Any]] | None) -> ScanOutcome:
        self.calls.append(policy_checks)
        return [dict(RESULT)], dict(INVENTORY)


@pytest.fixture
def state(server: LoopbackServer, ca: ThrowawayCA, tmp_path: Path) -> AgentState:
    enroll(tmp_path / "state", server.url, "tok-123", certificate_sha256(ca.cert_pem))
    return AgentState(tmp_path / "state")


@pytest.fixture
def scan() -> FakeScan:
    return FakeScan()


@pytest.fixture
def agent(state: AgentState, scan: FakeScan) -> Iterator[RunningAgent]:
    running = build_service(state, scanner=scan)
    # Tests drive retries themselves; a zero-length backoff keeps them deterministic.
    running.service.backoff.base = running.service.backoff.cap = 1e-9
    yield running
    running.close()


def _unreachable_transport(agent: RunningAgent, ca: ThrowawayCA) -> Transport:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    identity = agent.service.transport.identity
    assert identity is not None
    return Transport(ServerUrl("127.0.0.1", port, ""), pinned_context(ca.cert_pem), identity)


def test_a_scan_is_reported_with_the_contracts_payload(
    agent: RunningAgent, api: ScriptedApi, scan: FakeScan, state: AgentState
) -> None:
    seq = agent.service.scan_cycle()
    assert seq == 1
    # The policy's checks and parameters reached the scan.
    assert scan.calls == [api.policy["checks"]]
    (report,) = api.reports
    assert set(report) == REPORT_FIELDS
    assert report["agent_id"] == api.agent_id
    assert report["epoch"] == agent.spool.epoch
    assert report["seq"] == 1
    assert report["kind"] == "scan"
    assert report["policy_version"] == 3
    assert report["results"] == [RESULT]
    assert report["inventory"] == INVENTORY
    assert report["gaps"] == []
    assert report["created_at"].endswith("Z")
    assert api.signature_failures == []
    assert agent.spool.depth() == 0
    status = state.load_status()
    assert status["last_report_at"] and status["last_policy_version"] == 3
    assert json.loads(state.policy_path.read_text())["version"] == 3


def test_while_the_server_is_down_reports_wait_and_go_later_in_order(
    agent: RunningAgent, api: ScriptedApi, ca: ThrowawayCA, state: AgentState
) -> None:
    service = agent.service
    service.refresh_policy()  # cached before the outage
    working = service.transport
    service.transport = _unreachable_transport(agent, ca)
    assert service.scan_cycle() == 1
    assert service.scan_cycle() == 2
    assert agent.spool.depth() == 2
    assert service.backoff.failures >= 1
    assert "not sent" in state.load_status()["last_error"]
    # The last policy kept applying while the server could not be asked.
    assert service.policy_version == 3
    service.transport = working
    assert service.flush() == 2
    assert [r["seq"] for r in api.reports] == [1, 2]
    assert agent.spool.depth() == 0
    assert service.backoff.failures == 0
    assert state.load_status()["last_error"] is None


def test_a_report_the_server_already_holds_is_confirmed_not_resent_forever(
    agent: RunningAgent, api: ScriptedApi
) -> None:
    agent.spool.append("scan", {"created_at": "2026-11-23T10:00:00Z", "results": []})
    (spooled,) = agent.spool.oldest()
    # As if an earlier send was stored but its answer was lost on the way back.
    api.stored[(api.agent_id, agent.spool.epoch, spooled.seq)] = {"seq": spooled.seq}
    assert agent.service.flush() == 1
    assert api.duplicates == 1
    assert agent.spool.depth() == 0


def test_a_server_error_keeps_the_report_for_a_retry(agent: RunningAgent, api: ScriptedApi) -> None:
    api.report_status = 503
    agent.service.scan_cycle()
    assert agent.spool.depth() == 1
    assert agent.service.backoff.failures == 1
    api.report_status = None
    assert agent.service.flush() == 1


def test_a_report_the_server_rejects_becomes_a_gap_on_the_next(
    agent: RunningAgent, api: ScriptedApi
) -> None:
    from agent.cli import status_document

    api.report_status = 400
    agent.service.scan_cycle()
    # Out of the queue (the same bytes would be refused forever), but kept and counted.
    assert agent.spool.depth() == 0
    (aside,) = agent.spool.set_aside()
    assert aside[:2] == (1, "scan") and "HTTP 400: scripted refusal" in aside[2]
    assert status_document(agent.service.state)["reports_set_aside"] == 1
    api.report_status = None
    agent.service.scan_cycle()
    (report,) = api.reports
    assert report["seq"] == 2
    assert len(report["gaps"]) == 1
    gap = report["gaps"][0]
    assert (gap["from_seq"], gap["to_seq"]) == (1, 1)
    assert "400" in gap["reason"]


@pytest.mark.parametrize(("status", "set_aside"), [(422, True), (409, False), (429, False)])
def test_only_refusals_of_the_content_set_a_report_aside(
    agent: RunningAgent, api: ScriptedApi, status: int, set_aside: bool
) -> None:
    """A rate limit or a conflict heals with time: the report waits. A refusal of what it
    holds does not: it is set aside and the next one goes."""
    api.report_status = status
    agent.service.scan_cycle()
    assert (agent.spool.depth(), len(agent.spool.set_aside())) == ((0, 1) if set_aside else (1, 0))


def test_gaps_from_a_full_spool_reach_the_server(
    state: AgentState, scan: FakeScan, api: ScriptedApi, ca: ThrowawayCA
) -> None:
    config = json.loads(state.config_path.read_text())
    config["spool_max_rows"] = 2
    state.config_path.write_text(json.dumps(config))
    running = build_service(state, scanner=scan)
    try:
        service = running.service
        working = service.transport
        service.transport = _unreachable_transport(running, ca)
        for _ in range(4):
            service.scan_cycle()
        service.transport = working
        service.backoff.succeeded()
        assert service.flush() == 2
    finally:
        running.close()
    assert [r["seq"] for r in api.reports] == [3, 4]
    gaps = [Gap(g["from_seq"], g["to_seq"], g["reason"]) for r in api.reports for g in r["gaps"]]
    assert gaps == [Gap(1, 1, "spool full"), Gap(2, 2, "spool full")]


def test_heartbeat_reports_the_spool_and_runs_only_locally_allowed_commands(
    agent: RunningAgent, api: ScriptedApi, scan: FakeScan
) -> None:
    scan_now, isolate = str(uuid.uuid4()), str(uuid.uuid4())
    api.commands = [{"id": scan_now, "type": "scan_now"}, {"id": isolate, "type": "isolate_host"}]
    agent.service.heartbeat()
    first = api.heartbeats[0]
    assert set(first) == {"spool_depth", "last_seq", "epoch", "policy_version", "acked_commands"}
    assert first["epoch"] == agent.spool.epoch
    assert first["acked_commands"] == []
    assert len(scan.calls) == 1  # scan_now ran; isolate_host did not run anything
    assert [r["seq"] for r in api.reports] == [1]
    # Both are acknowledged in the next heartbeat, the refused one too (else it comes forever).
    agent.service.heartbeat()
    assert sorted(api.heartbeats[1]["acked_commands"]) == sorted([scan_now, isolate])
    assert api.heartbeats[1]["last_seq"] == 1
    agent.service.heartbeat()
    assert api.heartbeats[2]["acked_commands"] == []
    assert len(scan.calls) == 1


def test_a_command_delivered_twice_runs_once(
    agent: RunningAgent, api: ScriptedApi, scan: FakeScan
) -> None:
    command = str(uuid.uuid4())
    api.commands = [{"id": command, "type": "scan_now"}]
    service = agent.service
    service.heartbeat()
    # The ack is lost (heartbeat fails), so the server delivers the command again.
    service._pending_acks.clear()
    api.acked.clear()
    service.heartbeat()
    assert len(scan.calls) == 1
    assert service.pending_acks == [command]


def test_a_command_delivered_again_after_a_restart_runs_once(
    state: AgentState, agent: RunningAgent, api: ScriptedApi, scan: FakeScan
) -> None:
    command = str(uuid.uuid4())
    api.commands = [{"id": command, "type": "scan_now"}]
    agent.service.heartbeat()
    assert len(scan.calls) == 1
    # Killed before the next heartbeat carried the acknowledgement: the server delivers the
    # command again to the restarted agent, which acknowledges it and does not run it again.
    agent.close()
    again = build_service(state, scanner=scan)
    try:
        again.service.heartbeat()
        assert len(scan.calls) == 1
        assert again.service.pending_acks == [command]
    finally:
        again.close()
    assert (state.commands_seen_path.stat().st_mode & 0o777) == 0o600


def test_scan_now_is_refused_when_the_local_configuration_does_not_allow_it(
    state: AgentState, scan: FakeScan, api: ScriptedApi
) -> None:
    config = json.loads(state.config_path.read_text())
    config["allowed_commands"] = []
    state.config_path.write_text(json.dumps(config))
    running = build_service(state, scanner=scan)
    try:
        api.commands = [{"id": str(uuid.uuid4()), "type": "scan_now"}]
        running.service.heartbeat()
    finally:
        running.close()
    assert scan.calls == []


def test_a_malformed_policy_is_ignored_and_the_last_good_one_kept(
    agent: RunningAgent, api: ScriptedApi, scan: FakeScan
) -> None:
    agent.service.refresh_policy()
    api.policy = {"version": "four", "checks": []}
    agent.service.scan_cycle()
    assert scan.calls == [{"accounts.uid0_extra": {"enabled": False, "params": {}}}]
    assert agent.service.policy_version == 3
    assert api.reports[0]["policy_version"] == 3


def test_a_failing_scan_is_logged_and_the_agent_goes_on(
    state: AgentState, api: ScriptedApi
) -> None:
    def broken(policy_checks: object) -> ScanOutcome:
        raise RuntimeError("collector exploded")

    running = build_service(state, scanner=broken)
    try:
        assert running.service.scan_cycle() is None
    finally:
        running.close()
    assert "collector exploded" in state.load_status()["last_error"]
    assert api.reports == []


def test_odd_results_are_fitted_to_the_contract_before_spooling(
    state: AgentState, api: ScriptedApi
) -> None:
    def sloppy(policy_checks: object) -> ScanOutcome:
        results = [
            {**RESULT, "extra": 1, "message": "m" * 5000, "evidence": {"blob": "x" * 20000}},
            {**RESULT, "check_id": "Bad Id"},
            {**RESULT, "status": "maybe"},
        ]
        return results, None

    running = build_service(state, scanner=sloppy)
    try:
        running.service.scan_cycle()
    finally:
        running.close()
    (report,) = api.reports
    first, second = report["results"]
    assert "extra" not in first
    assert len(first["message"]) == 1000
    assert first["evidence"]["truncated"] is True
    assert second["status"] == "error"


def test_the_service_needs_an_enrolled_state(tmp_path: Path) -> None:
    from agent.state import StateError

    with pytest.raises(StateError, match="not enrolled"):
        build_service(AgentState(tmp_path / "empty"))


def test_a_lost_spool_starts_a_later_epoch(
    state: AgentState, scan: FakeScan, agent: RunningAgent
) -> None:
    first_epoch = agent.spool.epoch
    agent.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state.spool_path}{suffix}").unlink(missing_ok=True)
    again = build_service(state, scanner=scan)
    try:
        assert again.spool.epoch > first_epoch
    finally:
        again.close()


def test_jobs_are_jittered_and_start_within_the_random_delay(
    state: AgentState, scan: FakeScan, api: ScriptedApi
) -> None:
    from datetime import UTC, datetime, timedelta

    from agent.schedule import IntervalTrigger, Scheduler

    config = json.loads(state.config_path.read_text())
    config.update(start_delay_max_seconds=120, scan_interval_seconds=7200)
    state.config_path.write_text(json.dumps(config))
    running = build_service(state, scanner=scan)
    scheduler = Scheduler()
    try:
        before = datetime.now(UTC)
        running.service.schedule(scheduler)
        scheduler.start(paused=True)  # jobs are computed, none runs
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"scan", "heartbeat", "flush", "watch"}
        for job in jobs.values():
            assert isinstance(job.trigger, IntervalTrigger)
            assert job.trigger.jitter and job.trigger.jitter > 0
            assert before <= job.next_run_time <= before + timedelta(seconds=121)
        # Never scanned yet: the first scan is at once, the other jobs wait their turn.
        assert jobs["scan"].next_run_time <= before + timedelta(seconds=1)
        # The local override beats the policy's interval; the policy's heartbeat applies.
        assert jobs["scan"].trigger.interval == timedelta(seconds=7200)
        assert jobs["scan"].trigger.jitter == 300  # a tenth of the interval, capped
        running.service.refresh_policy()
        assert scheduler.get_job("heartbeat").trigger.interval == timedelta(seconds=60)
        # A new policy with another heartbeat interval reschedules that job.
        api.policy["schedules"]["heartbeat_interval_seconds"] = 30
        api.policy["version"] = 4
        running.service.refresh_policy()
        assert scheduler.get_job("heartbeat").trigger.interval == timedelta(seconds=30)
    finally:
        scheduler.shutdown(wait=False)
        running.close()


def test_an_agent_that_has_scanned_before_waits_the_random_delay_for_its_first_scan(
    state: AgentState, scan: FakeScan
) -> None:
    import random
    from datetime import UTC, datetime, timedelta

    from agent.schedule import Scheduler

    config = json.loads(state.config_path.read_text())
    config.update(start_delay_max_seconds=120)
    state.config_path.write_text(json.dumps(config))
    state.update_status(last_scan_at="2026-12-01T08:00:00Z")
    running = build_service(state, scanner=scan)
    # A seeded generator whose first draws are well inside the window.
    running.service._rng = random.Random(7)
    expected = random.Random(7).uniform(0.0, 120)
    scheduler = Scheduler()
    try:
        before = datetime.now(UTC)
        running.service.schedule(scheduler)
        scheduler.start(paused=True)
        scan_at = scheduler.get_job("scan").next_run_time
        assert expected > 5
        assert before + timedelta(seconds=expected - 1) <= scan_at
        assert scan_at <= before + timedelta(seconds=expected + 5)
    finally:
        scheduler.shutdown(wait=False)
        running.close()


def test_a_heartbeat_announcing_a_new_policy_fetches_it(
    agent: RunningAgent, api: ScriptedApi
) -> None:
    agent.service.refresh_policy()
    api.policy["version"] = 9
    agent.service.heartbeat()
    assert agent.service.policy_version == 9


def test_a_watcher_that_cannot_work_shows_in_status_and_reaches_the_server(
    agent: RunningAgent, api: ScriptedApi, state: AgentState, tmp_path: Path
) -> None:
    """A blind watcher must not look like a quiet folder: `agent status` says it fails, the
    server gets ``watch_failed`` once (not every cycle), then ``watch_recovered``."""
    from agent.cli import status_document

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    # The snapshot's place is taken by a folder: the watcher cannot open it.
    state.watch_snapshot_path.mkdir()
    api.policy = {
        **api.policy,
        "version": 4,
        "watch": {"folders": [{"path": str(uploads), "kind": "upload"}], "sensitive_words": []},
    }
    service = agent.service
    service.refresh_policy()
    assert service.watcher is None
    service.watch_cycle()
    service.watch_cycle()
    failed = [e for r in api.reports for e in r.get("file_events", [])]
    assert [(e["action"], e["folder"]) for e in failed] == [("watch_failed", str(uploads))]
    assert "not started" in failed[0]["error"]
    document = status_document(state)
    assert document["watch_error"] and "not started" in document["watch_error"]
    # Fixed on the host: the next cycle starts it, says so, and reports what is there.
    state.watch_snapshot_path.rmdir()
    (uploads / "shell.php").write_bytes(b"<?php @eval($_POST['x']);?>")
    service.watch_cycle()
    later = [e for r in api.reports[1:] for e in r.get("file_events", [])]
    assert [e["action"] for e in later] == ["watch_recovered", "created"], later
    assert status_document(state)["watch_error"] is None


def test_the_windows_update_search_is_scheduled_and_cached_for_scans(
    agent: RunningAgent, state: AgentState, tmp_path: Path
) -> None:
    """The slow search runs in the agent's own job (a runner playing the recordings stands in
    for powershell.exe); a scan's collector reads its answer and runs nothing."""
    from datetime import UTC, datetime, timedelta

    from agent.schedule import Scheduler
    from checks.collectors.windows.facts import collect_windows_pending_updates
    from checks.collectors.windows.updates import PENDING_CACHE, pending_from_cache
    from checks.errors import CollectError
    from checks.host import HostContext
    from tests.windows.fakepowershell import FakePowerShell

    service = agent.service
    service.searches_windows_updates = True
    scheduler = Scheduler()
    try:
        service.schedule(scheduler)
        scheduler.start(paused=True)
        job = scheduler.get_job("windows_updates")
        assert job is not None and job.trigger.interval == timedelta(hours=6)
    finally:
        scheduler.shutdown(wait=False)

    search = FakePowerShell({"Microsoft.Update.Session": "pendingupdates.json"})
    service.windows_update_runner = search
    service.windows_updates_cycle()
    ((argv, timeout),) = search.calls
    assert "IsInstalled=0 and Type=''Software''" in argv[-1] and timeout == 900
    cache_path = state.directory / PENDING_CACHE
    first = json.loads(cache_path.read_text(encoding="utf-8"))
    assert first["error"] == "" and len(first["updates"]) == 2

    class NoCommands:
        def run(self, argv: object, timeout: float | None = None) -> None:
            raise AssertionError("a scan must not search for updates")

    host = HostContext(tmp_path, NoCommands(), "windows", is_tree=False, cache=state.directory)  # type: ignore[arg-type]
    updates = collect_windows_pending_updates(host)
    assert [(u.new_version, u.is_security) for u in updates] == [
        ("KB5071234", True),
        ("KB2267602", False),
    ]

    # A failed search keeps the last good list and its time, and says why.
    service.windows_update_runner = FakePowerShell({"Microsoft.Update.Session": None})
    service.windows_updates_cycle()
    kept = json.loads(cache_path.read_text(encoding="utf-8"))
    assert kept["searched_at"] == first["searched_at"] and kept["updates"] == first["updates"]
    assert "Invalid namespace" in kept["error"]
    assert collect_windows_pending_updates(host) == updates
    later = datetime.now(UTC) + timedelta(days=4)
    with pytest.raises(CollectError, match="Invalid namespace"):
        pending_from_cache(kept, later)
