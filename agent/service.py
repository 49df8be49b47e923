"""Glue for ``xunjian agent run``: load the state folder, open spool and transport, run the
scheduler until a stop is asked for."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from agent.runner import ISOLATION_EVIDENCE_REASON, AgentService
from agent.scanning import Scanner, in_process_scanner, subprocess_scanner
from agent.schedule import Scheduler
from agent.spool import Spool
from agent.state import AgentState, StateError
from agent.transport import Identity, InvalidServerUrl, Transport, parse_server_url, pinned_context

log = logging.getLogger("xunjian.agent")
# How long a stopping agent waits for its running jobs before it closes the spool: a flush is
# bounded by the transport's timeouts, and systemd waits 90 s before it kills a service.
JOBS_STOP_SECONDS = 30.0


@dataclass
class RunningAgent:
    service: AgentService
    transport: Transport
    spool: Spool

    def run(self, stop: threading.Event) -> None:
        """Schedule the jobs and block until ``stop`` is set; then stop without waiting for a
        running scan (the spool is crash safe, and a report not yet spooled is just redone)."""
        # Three jobs at a time; a PC that slept through a run catches up once, not once per
        # missed interval (agent/schedule.py).
        scheduler = Scheduler(max_workers=3)
        self.service.schedule(scheduler)
        scheduler.start()
        config = self.service.config
        log.info(
            "agent %s running against %s (scan every %.0fs, heartbeat every %.0fs, spool epoch %d)",
            config.agent_id,
            config.server_url,
            self.service.scan_interval(),
            self.service.heartbeat_interval(),
            self.spool.epoch,
        )
        try:
            # A timeout keeps the main thread responsive to signals on every platform.
            while not stop.wait(timeout=1.0):
                pass
        finally:
            self.service.stop()
            scheduler.shutdown(wait=False)
            # A scan in a child process would otherwise hold the exit for up to its timeout.
            cancel = getattr(self.service.scanner, "cancel", None)
            if callable(cancel):
                cancel()
            # close() follows and closes the spool: a job still finishing (a scan spooling its
            # report, a flush) would meet a closed database (seen in a test's log as "Cannot
            # operate on a closed database"). The jobs see the stop and end soon; the bound
            # keeps a hung network call from holding the stop past systemd's patience.
            if not scheduler.wait_for_jobs(JOBS_STOP_SECONDS):
                log.warning("stopping while a job still runs (over %.0f s)", JOBS_STOP_SECONDS)
            log.info("agent stopped")

    def close(self) -> None:
        self.transport.close()
        self.spool.close()


def build_service(
    state: AgentState,
    scanner: Scanner | None = None,
) -> RunningAgent:
    """Everything ``agent run`` needs, from the state folder. ``scanner`` replaces the check
    library (tests); by default each scan runs ``checks.api`` in a child process."""
    from agent.isolation.controller import IsolationController

    config = state.load_config()
    key = state.load_key()
    ca_pem = state.load_ca_pem()
    try:
        server = parse_server_url(config.server_url)
    except InvalidServerUrl as exc:
        raise StateError(f"agent.json: server_url: {exc}") from exc
    transport = Transport(
        server,
        pinned_context(ca_pem),
        Identity(config.agent_id, key),
        timeout=config.request_timeout_seconds,
    )
    # An isolated host stays isolated across restarts and reboots: its rules go back on first,
    # before the spool, the scheduler or any request (docs/incidents.md).
    isolation = IsolationController(state, config, on_link=transport.pin_address)
    isolation.restore()
    # A spool re-created after loss must start above every epoch this agent used before.
    last_epoch = state.load_status().get("last_epoch")
    min_epoch = last_epoch + 1 if isinstance(last_epoch, int) else 0
    spool = Spool(
        state.spool_path,
        max_rows=config.spool_max_rows,
        max_bytes=config.spool_max_bytes,
        min_epoch=min_epoch,
    )
    state.update_status(last_epoch=spool.epoch)
    if scanner is None:
        root = Path(config.scan_root) if config.scan_root else None
        # The state folder also holds what scheduled jobs found for scans to read (Windows'
        # pending updates, agent/runner.py).
        cache = state.directory if root is None else None
        if config.scan_in_process:
            scanner = in_process_scanner(root, cache)
        else:
            scanner = subprocess_scanner(root, config.scan_timeout_seconds, cache)
    service = AgentService(state, config, transport, spool, scanner, isolation=isolation)
    # The scene before the rules (I1): the snapshot is queued, and goes up through the server's
    # link, which the rules keep open, with the next flush; isolating does not wait for it.
    isolation.before_isolation = lambda command_id: service.take_evidence(
        ISOLATION_EVIDENCE_REASON, command_id, send_now=False
    )
    return RunningAgent(service, transport, spool)
