"""The service body of ``xunjian agent run``: scheduled scans, heartbeats and spool flushes.

Jobs (agent/schedule.py, every one with jitter; the first run of each after a random start delay):

* **scan**: fetch the policy (or fall back to the last one saved) -> run the checks with its
  parameters -> spool a report -> flush the spool;
* **heartbeat**: tell the server the spool's depth and numbering, acknowledge the commands
  received by the previous heartbeat, and take new commands. ``scan_now`` and ``evidence``
  (a snapshot of the scene, agent/evidence.py) run at once when the *local*
  ``allowed_commands`` lists them; anything else is refused and logged;
* **flush**: retry unsent reports, then send waiting evidence archives in chunks (resumed
  where the server stands), at most as often as the backoff allows;
* **monitor_list** and **monitors** (only with ``run_monitors`` in agent.json): fetch the page
  monitors the server assigned this agent (internal-only sites), and every second start the
  checks that are due and post their outcomes (agent/monitors/runner.py);
* **windows_updates** (on Windows only): search for pending updates, which is slow and goes to
  Microsoft's servers, with a timeout, and leave the answer with its time in the state folder,
  where scans read it (checks/collectors/windows/updates.py): a scan never waits for it.

The units of work (:meth:`AgentService.scan_cycle`, :meth:`heartbeat`, :meth:`flush`) are plain
methods, so tests drive them one by one without a scheduler. None of them raises: a server that
is down means reports wait in the spool and the agent keeps going.
"""

from __future__ import annotations

import contextlib
import logging
import random
import sys
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from agent import evidence, report
from agent.backoff import Backoff
from agent.messages import (
    Command,
    MessageError,
    Policy,
    parse_heartbeat_answer,
    parse_policy,
    report_confirmed,
)
from agent.monitors.runner import MonitorRunner
from agent.scanning import ScanFailed, Scanner
from agent.spool import Spool
from agent.state import (
    AgentConfig,
    AgentState,
    StateError,
    read_json_object,
    utc_now_text,
    write_json,
)
from agent.transport import Refused, Transport, TransportError
from xunjian.core.contract import (
    COMMAND_EVIDENCE,
    COMMAND_SCAN_NOW,
    ISOLATION_COMMANDS,
    KIND_FILE_EVENTS,
    KIND_SCAN,
    PATH_HEARTBEAT,
    PATH_POLICY,
    PATH_REPORTS,
)

if TYPE_CHECKING:
    from agent.isolation.controller import IsolationController
    from agent.schedule import Scheduler
    from agent.watch.watcher import FileWatcher
    from checks.runner import CommandRunner

log = logging.getLogger("xunjian.agent")

# Commands this agent knows how to carry out; the local allow list picks among them.
KNOWN_COMMANDS = frozenset({COMMAND_SCAN_NOW, COMMAND_EVIDENCE})
EVIDENCE_COMMAND_REASON = "requested from the server"
# The snapshot taken by isolation, before the rules (agent/service.py).
ISOLATION_EVIDENCE_REASON = "before isolation"
# Used until a policy names intervals (the contract's own example values).
DEFAULT_SCAN_INTERVAL = 3600.0
DEFAULT_HEARTBEAT_INTERVAL = 60.0
MAX_JITTER = 300.0
# The server takes at most 100 acknowledgements per heartbeat.
MAX_ACKS_PER_HEARTBEAT = 100
REMEMBERED_COMMANDS = 1000
# How often due page monitors are started (each runs at its own interval, 5 s at least).
MONITOR_TICK_SECONDS = 1.0


def _jitter(config: AgentConfig, interval: float) -> float:
    if config.job_jitter_seconds is not None:
        return config.job_jitter_seconds
    return min(interval / 10.0, MAX_JITTER)


class AgentService:
    def __init__(
        self,
        state: AgentState,
        config: AgentConfig,
        transport: Transport,
        spool: Spool,
        scanner: Scanner,
        rng: random.Random | None = None,
        isolation: IsolationController | None = None,
    ) -> None:
        self.state = state
        # Host isolation (agent/isolation); None where the service was built without it.
        self.isolation = isolation
        self._isolation_sent: dict[str, Any] | None = None  # the last report a heartbeat took
        self.config = config
        self.transport = transport
        self.spool = spool
        self.scanner = scanner
        self._rng = rng or random.Random()
        self.backoff = Backoff(config.backoff_base_seconds, config.backoff_cap_seconds, self._rng)
        self.policy: Policy | None = self._cached_policy()
        self._scheduler: Scheduler | None = None
        self._stopping = threading.Event()
        self._scan_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._commands_lock = threading.Lock()
        self._pending_acks: list[str] = []
        # Kept in the state folder: an agent restarted after running a command but before its
        # acknowledgement reached the server gets it again and must not run it twice (a second
        # evidence snapshot, a second scan).
        self._seen_commands: deque[str] = deque(
            state.load_commands_seen(), maxlen=REMEMBERED_COMMANDS
        )
        self.watcher: FileWatcher | None = None
        self._watch_key: tuple[Any, ...] = ()
        self._watch_lock = threading.Lock()
        # Why the watcher cannot work (None while it works), and whether the server was told:
        # a blind watcher must show in `agent status` and as an alert, never as quiet folders.
        self.watch_error: str | None = None
        self._watch_error_sent: str | None = None
        self._watch_failed_folders: tuple[tuple[str, str], ...] = ()  # told the server
        self._watch_unreadable = 0
        self.monitors = MonitorRunner(transport, config, self._rng, on_error=self._note_error)
        # The Windows Update search job: scheduled on Windows; its runner replaced in tests.
        self.searches_windows_updates = sys.platform == "win32"
        self.windows_update_runner: CommandRunner | None = None

    # -- policy ---------------------------------------------------------------------------
    def _cached_policy(self) -> Policy | None:
        cached = self.state.load_cached_policy()
        if cached is None:
            return None
        try:
            return parse_policy(cached)
        except MessageError as exc:
            log.warning("ignoring the saved policy: %s", exc)
            return None

    @property
    def policy_version(self) -> int | None:
        return self.policy.version if self.policy else None

    def refresh_policy(self) -> Policy | None:
        """Fetch the policy; on failure keep the last one (an offline PC still scans by it)."""
        try:
            raw = self.transport.get_json(PATH_POLICY)
            policy = parse_policy(raw)
        except TransportError as exc:
            self._note_error(f"policy not fetched, using the last one: {exc}")
            return self.policy
        if policy.version != self.policy_version:
            log.info("policy version %s (was %s)", policy.version, self.policy_version)
        self.policy = policy
        self._safely(self.state.save_policy, raw)
        self._safely(self.state.update_status, last_policy_version=policy.version)
        self._apply_intervals()
        self._apply_watch()
        return policy

    def scan_interval(self) -> float:
        if self.config.scan_interval_seconds is not None:
            return self.config.scan_interval_seconds
        if self.policy and self.policy.scan_interval_seconds:
            return self.policy.scan_interval_seconds
        return DEFAULT_SCAN_INTERVAL

    def heartbeat_interval(self) -> float:
        if self.config.heartbeat_interval_seconds is not None:
            return self.config.heartbeat_interval_seconds
        if self.policy and self.policy.heartbeat_interval_seconds:
            return self.policy.heartbeat_interval_seconds
        return DEFAULT_HEARTBEAT_INTERVAL

    # -- scan -----------------------------------------------------------------------------
    def scan_cycle(self) -> int | None:
        """Policy -> scan -> spool -> flush. Returns the new report's seq, None if none."""
        with self._scan_lock:
            policy = self.refresh_policy()
            try:
                results, inventory = self.scanner(policy.checks if policy else None)
            except ScanFailed as exc:
                self._note_error(f"scan failed: {exc}")
                return None
            except Exception as exc:  # a broken check library must not stop the agent
                log.exception("the scan failed")
                self._note_error(f"scan failed: {exc!r}")
                return None
            content = report.report_content(
                results, inventory, policy.version if policy else None, utc_now_text()
            )
            try:
                seq = self.spool.append(KIND_SCAN, content)
            except Exception as exc:  # disk full, damaged spool: keep the agent alive
                log.exception("could not spool the report")
                self._note_error(f"could not spool the report: {exc!r}")
                return None
            log.info(
                "scan spooled as seq %d (%d results, spool depth %d)",
                seq,
                len(content["results"]),
                self.spool.depth(),
            )
            self._safely(self.state.update_status, last_scan_at=content["created_at"])
        self.flush()
        return seq

    # -- Windows Update -------------------------------------------------------------------
    def windows_updates_cycle(self) -> None:
        """Search for pending Windows updates and cache the answer for scans. A failed search
        keeps the last good list (and its time) and records why."""
        from checks.collectors.windows.updates import PENDING_CACHE, search_pending_updates
        from checks.errors import CollectError
        from checks.host import HostContext

        path = self.state.directory / PENDING_CACHE
        now = utc_now_text()
        try:
            updates = search_pending_updates(HostContext.live(self.windows_update_runner))
            record: dict[str, Any] = {"searched_at": now, "updates": updates, "error": ""}
        except CollectError as exc:
            try:
                previous = read_json_object(path)
            except (OSError, StateError):
                previous = {}
            record = {**previous, "failed_at": now, "error": str(exc)[:1000]}
            self._note_error(f"the search for pending Windows updates failed: {exc}")
        self._safely(write_json, path, record)

    # -- file watcher ---------------------------------------------------------------------
    def _apply_watch(self) -> None:
        """Start, restart or stop the watcher when the policy's folders or words change."""
        policy = self.policy
        key = (policy.watch_folders, policy.sensitive_words) if policy else ()
        with self._watch_lock:
            if key == self._watch_key or self._stopping.is_set():
                return
            if self.watcher is not None:
                self.watcher.stop()
                self.watcher = None
            self._watch_key = key
            if not key or not key[0]:
                self._set_watch_error(None)
                return
            self._start_watcher()

    def _start_watcher(self) -> None:
        """Start a watcher for ``_watch_key`` (under ``_watch_lock``). One that cannot start
        is recorded as failing and tried again by the next watch cycle."""
        from agent.watch.watcher import FileWatcher, WatchFolder, WatchLimits

        folders = [WatchFolder(path, kind) for path, kind in self._watch_key[0]]
        limits = WatchLimits(rescan_seconds=self.config.watch_rescan_seconds)
        watcher: FileWatcher | None = None
        try:
            watcher = FileWatcher(
                self.state.watch_snapshot_path, folders, self._watch_key[1], limits
            )
            watcher.start()
        except Exception as exc:  # e.g. the inotify instance limit: keep the agent alive
            if watcher is not None:
                with contextlib.suppress(Exception):
                    watcher.stop()
            self._set_watch_error(f"not started: {exc!r}"[:400])
            return
        self.watcher = watcher
        log.info("watching %d folder(s): %s", len(folders), [f.path for f in folders])

    def _set_watch_error(self, error: str | None) -> None:
        """Record whether the watcher works, for `agent status` (status.json)."""
        if error == self.watch_error:
            return
        self.watch_error = error
        if error is not None:
            self._note_error(f"file watcher failing: {error}")
        self._safely(
            self.state.update_status,
            watch_error=error,
            watch_error_at=utc_now_text() if error else None,
        )

    def _watch_state_events(self) -> list[dict[str, Any]]:
        """``watch_failed`` per folder when the watcher's failure is new to the server,
        ``watch_recovered`` when it works again after the server was told."""
        from agent.watch.watcher import watch_state_event

        if self.watch_error == self._watch_error_sent:
            return []
        if self.watch_error is not None:
            folders = self._watch_key[0] if self._watch_key else ()
            action = "watch_failed"
        elif self._watch_error_sent is not None:
            # The folders the server was told about, even if the policy dropped them since.
            folders, action = self._watch_failed_folders, "watch_recovered"
        else:
            return []
        return [watch_state_event(action, path, kind, self.watch_error) for path, kind in folders]

    def watch_cycle(self) -> int | None:
        """Batch the watcher's changes into one ``file_events`` report; returns its seq."""
        with self._watch_lock:
            if self.watcher is None and self.watch_error is not None and self._watch_key:
                self._start_watcher()  # it could not start: perhaps it can now
            watcher = self.watcher
            events: list[dict[str, Any]] = []
            if watcher is not None:
                try:
                    events = watcher.drain()
                except Exception as exc:  # the watcher is blind: say so, keep the agent alive
                    log.exception("the file watcher failed")
                    self._set_watch_error(f"{exc!r}"[:400])
                else:
                    self._set_watch_error(None)
            events = self._watch_state_events() + events
            if watcher is not None and watcher.unreadable != self._watch_unreadable:
                self._watch_unreadable = watcher.unreadable
                self._safely(self.state.update_status, watch_unreadable=watcher.unreadable)
        if not events:
            return None
        content = {
            "created_at": utc_now_text(),
            "policy_version": self.policy_version,
            "results": [],
            "inventory": None,
            "file_events": events,
        }
        try:
            seq = self.spool.append(KIND_FILE_EVENTS, content)
        except Exception as exc:
            log.exception("could not spool file events")
            self._note_error(f"could not spool file events: {exc!r}")
            return None
        log.info("%d file event(s) spooled as seq %d", len(events), seq)
        if self.watch_error != self._watch_error_sent:
            self._watch_failed_folders = (
                tuple(self._watch_key[0]) if self.watch_error and self._watch_key else ()
            )
            self._watch_error_sent = self.watch_error
        self.flush()
        return seq

    # -- flush ----------------------------------------------------------------------------
    def flush(self) -> int:
        """Send spooled reports oldest first until empty or the server fails; returns sent."""
        if self._stopping.is_set():
            return 0  # the agent stops: what is spooled goes up after the next start
        if not self._flush_lock.acquire(blocking=False):
            return 0  # another thread is flushing; it will take the new report too
        try:
            sent = self._flush()
            self._upload_evidence()
            return sent
        finally:
            self._flush_lock.release()

    def _flush(self) -> int:
        sent = 0
        while not self._stopping.is_set() and self.backoff.ready():
            oldest = self.spool.oldest(1)
            if not oldest:
                break
            spooled = oldest[0]
            payload = spooled.payload(self.config.agent_id, self.spool.epoch)
            try:
                answer = self.transport.post_json(PATH_REPORTS, payload)
                confirmed = report_confirmed(answer)
            except Refused as exc:
                if exc.retryable:
                    self._retry_later(f"report {spooled.seq} not accepted: {exc}")
                    break
                # The same bytes would be refused forever: set them aside (kept in the spool,
                # counted), tell the server in a gap, and go on with the next report.
                reason = f"rejected by the server: HTTP {exc.status}: {exc.error}"
                log.error("report seq %d %s; set aside", spooled.seq, reason)
                self.spool.reject(spooled.seq, reason)
                self._note_error(f"report {spooled.seq} {reason}")
                continue
            except TransportError as exc:
                self._retry_later(f"report {spooled.seq} not sent: {exc}")
                break
            if not confirmed:
                self._retry_later(f"server did not confirm report {spooled.seq}: {answer!r:.200}")
                break
            self.spool.confirm(spooled.seq)
            self.backoff.succeeded()
            sent += 1
            log.info("report seq %d delivered", spooled.seq)
            self._safely(
                self.state.update_status,
                last_report_at=utc_now_text(),
                last_report_seq=spooled.seq,
                last_error=None,
            )
        return sent

    # -- evidence -------------------------------------------------------------------------
    def take_evidence(
        self, reason: str = "", command_id: str | None = None, send_now: bool = True
    ) -> evidence.Snapshot | None:
        """Take an evidence snapshot, queue it and (``send_now``) start sending it; None when
        none could be made (the reason is in ``agent status``). Isolation calls this before it
        changes anything (not sending: the upload follows through the rules); the server's
        ``evidence`` command through :meth:`_handle_command`."""
        folders = [path for path, _ in self.policy.watch_folders] if self.policy else []
        try:
            snapshot = evidence.take_snapshot(
                self.state,
                self.config,
                self.spool,
                reason=reason,
                command_id=command_id,
                watch_folders=folders,
            )
        except evidence.SnapshotFailed as exc:
            self._note_error(f"evidence snapshot failed: {exc}")
            return None
        self._safely(
            self.state.update_status,
            last_evidence_at=utc_now_text(),
            last_evidence_id=snapshot.id,
            last_evidence_missing=sorted(snapshot.errors),
        )
        if send_now:
            self.flush()
        return snapshot

    def _upload_evidence(self) -> None:
        """Send waiting archives, oldest first, while the server answers (under the flush
        lock). A server that cannot be reached is retried by a later flush, from where it
        stands; an archive refused for good is kept aside and named in ``agent status``."""
        budget = self.config.evidence_upload_bytes_per_flush
        for upload in self.spool.uploads():
            if self._stopping.is_set() or not self.backoff.ready():
                return
            try:
                done = evidence.upload_one(
                    self.transport,
                    self.spool,
                    upload,
                    self.config.evidence_chunk_bytes,
                    budget,
                    self._stopping.is_set,
                )
            except evidence.UploadRefused as exc:
                aside = evidence.set_aside(upload.path)
                self.spool.finish_upload(upload.id)
                self._note_error(
                    f"evidence {upload.id} refused by the server ({exc}); kept as {aside}"
                )
                continue
            except TransportError as exc:
                self._retry_later(f"evidence {upload.id} not sent: {exc}")
                return
            if not done:
                return  # this flush's budget is spent
            self.spool.finish_upload(upload.id)
            # The server holds it now: the scene's data stays in one guarded place.
            with contextlib.suppress(OSError):
                upload.path.unlink()
            self.backoff.succeeded()
            log.info("evidence %s delivered (%d bytes)", upload.id, upload.size)
            self._safely(self.state.update_status, last_evidence_delivered=upload.id)

    def _retry_later(self, message: str) -> None:
        delay = self.backoff.failed()
        self._note_error(f"{message}; retrying in {delay:.0f}s")

    # -- heartbeat and commands -----------------------------------------------------------
    def heartbeat(self) -> None:
        with self._commands_lock:
            acks = self._pending_acks[:MAX_ACKS_PER_HEARTBEAT]
        body = {
            "spool_depth": self.spool.depth(),
            "last_seq": self.spool.last_seq(),
            "epoch": self.spool.epoch,
            "policy_version": self.policy_version,
            "acked_commands": acks,
        }
        isolation = self.isolation.report() if self.isolation is not None else None
        if isolation is not None:
            # Read from the file, so a break-glass release by root is reported when the link
            # returns. Sent with every heartbeat while isolated (the server sees it hold), and
            # otherwise until a heartbeat carried the latest change.
            if isolation["state"] == "isolated" or isolation != self._isolation_sent:
                body["isolation"] = isolation
            if isolation["state"] != "isolated":
                self.transport.pin_address(None)
        try:
            answer = parse_heartbeat_answer(self.transport.post_json(PATH_HEARTBEAT, body))
        except TransportError as exc:
            self._note_error(f"heartbeat failed: {exc}")
            return
        self._isolation_sent = isolation
        if answer.command_key and not self.config.server_command_key:
            self._pin_command_key(answer.command_key)
        with self._commands_lock:
            self._pending_acks = [c for c in self._pending_acks if c not in set(acks)]
        self._safely(self.state.update_status, last_heartbeat_at=utc_now_text())
        if answer.policy_version is not None and answer.policy_version != self.policy_version:
            self._run_soon(self.refresh_policy, "policy_now")
        for command in answer.commands:
            self._handle_command(command)

    def _pin_command_key(self, key: str) -> None:
        """An agent enrolled before command keys existed takes the key once, from its enrolled
        server over the CA-pinned connection, and never replaces it after."""
        try:
            raw = read_json_object(self.state.config_path)
            raw["server_command_key"] = key
            AgentConfig.from_dict(raw)  # refuse a key agent.json could not load
            write_json(self.state.config_path, raw)
        except (OSError, StateError, TypeError) as exc:
            self._note_error(f"could not pin the server's command key: {exc}")
            return
        self.config.server_command_key = key
        log.info("pinned the server's command key")

    def _handle_command(self, command: Command) -> None:
        command_id, command_type = command.id, command.type
        with self._commands_lock:
            if command_id not in self._pending_acks:
                self._pending_acks.append(command_id)
            if command_id in self._seen_commands:
                return  # delivered again before our ack arrived: acknowledge, do not rerun
            self._seen_commands.append(command_id)
            self._safely(self.state.save_commands_seen, list(self._seen_commands))
        if command_type in ISOLATION_COMMANDS:
            self._isolation_command(command)
            return
        if command_type not in self.config.allowed_commands:
            log.warning(
                "refused command %s (%s): not in this agent's allowed_commands %s",
                command_id,
                command_type,
                self.config.allowed_commands,
            )
            return
        if command_type not in KNOWN_COMMANDS:
            log.warning(
                "refused command %s (%s): not known to this agent", command_id, command_type
            )
            return
        log.info("running command %s (%s)", command_id, command_type)
        if command_type == COMMAND_EVIDENCE:
            if any(upload.command_id == command_id for upload in self.spool.uploads()):
                # Taken before a restart that lost the ack: the queued archive answers it.
                log.info("command %s: its evidence archive is queued already", command_id)
                return
            self._run_soon(
                lambda: self.take_evidence(EVIDENCE_COMMAND_REASON, command_id),
                f"evidence-{command_id}",
            )
            return
        self._run_soon(self.scan_cycle, "scan_now")

    def _isolation_command(self, command: Command) -> None:
        """Isolate or release: the controller checks the allow list, the signature and the
        generation itself; the next heartbeat, at once, tells the server the outcome."""
        if self.isolation is None:
            log.warning("refused command %s (%s): no isolation here", command.id, command.type)
            return
        log.info("isolation command %s (%s)", command.id, command.type)

        def server_answers() -> None:
            self.transport.get_json(PATH_POLICY)

        self.isolation.run_command(
            command.id, command.type, command.generation, command.signature, server_answers
        )
        self._run_soon(self.heartbeat, "heartbeat_now")

    @property
    def pending_acks(self) -> list[str]:
        with self._commands_lock:
            return list(self._pending_acks)

    # -- scheduling -----------------------------------------------------------------------
    def _run_soon(self, job: Callable[[], Any], job_id: str) -> None:
        """In the service: a one-off job now. Without a scheduler (tests): right here."""
        if self._scheduler is None:
            job()
            return
        self._scheduler.add_job(self._guarded(job), id=job_id, name=job_id, replace_existing=True)

    def _guarded(self, job: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                job()
            except Exception as exc:  # the last line of defence: log, never kill the service
                log.exception("job %s failed", getattr(job, "__name__", job))
                self._note_error(f"{getattr(job, '__name__', 'job')} failed: {exc!r}")

        run.__name__ = run.__qualname__ = getattr(job, "__name__", "job")
        return run

    def schedule(self, scheduler: Scheduler) -> None:
        """Add the three jobs, each first run after a random delay, then on jittered intervals."""
        from agent.schedule import IntervalTrigger

        self._scheduler = scheduler
        self._apply_watch()  # from the saved policy, before the first fetch
        now = datetime.now(UTC)
        max_delay = self.config.start_delay_max_seconds

        # An agent that has never scanned (just installed or enrolled) scans at once: the
        # admin who installed it is waiting to see the PC's results, and the deployment's own
        # check waits for its first report. The random delay is for the restarts after, when a
        # room of PCs switched on together would otherwise report in the same second; the
        # first scan of a rollout is already spread by the installs themselves.
        never_scanned = "last_scan_at" not in self.state.load_status()

        def first_run(job_id: str) -> datetime:
            if job_id == "scan" and never_scanned:
                return now
            return now + timedelta(seconds=self._rng.uniform(0.0, max_delay))

        for job_id, job, interval in self._jobs():
            scheduler.add_job(
                self._guarded(job),
                IntervalTrigger(seconds=interval, jitter=_jitter(self.config, interval)),
                id=job_id,
                name=job_id,
                next_run_time=first_run(job_id),
            )

    def _jobs(self) -> list[tuple[str, Callable[[], Any], float]]:
        return [
            ("scan", self.scan_cycle, self.scan_interval()),
            ("heartbeat", self.heartbeat, self.heartbeat_interval()),
            ("flush", self.flush, self.config.flush_interval_seconds),
            ("watch", self.watch_cycle, self.config.watch_interval_seconds),
            *self._monitor_jobs(),
            *self._windows_jobs(),
        ]

    def _windows_jobs(self) -> list[tuple[str, Callable[[], Any], float]]:
        if not self.searches_windows_updates:
            return []
        from checks.collectors.windows.updates import SEARCH_INTERVAL_SECONDS

        return [("windows_updates", self.windows_updates_cycle, SEARCH_INTERVAL_SECONDS)]

    def _monitor_jobs(self) -> list[tuple[str, Callable[[], Any], float]]:
        """Only where the host's agent.json allows page monitors: elsewhere the agent does not
        even ask the server for a list (most agents run none)."""
        if not self.config.run_monitors:
            return []
        return [
            ("monitor_list", self.monitors.refresh, self.config.monitor_refresh_seconds),
            ("monitors", self.monitors.tick, MONITOR_TICK_SECONDS),
        ]

    def _apply_intervals(self) -> None:
        """A new policy may change the intervals: reschedule the jobs whose interval moved."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        from agent.schedule import IntervalTrigger

        for job_id, _, interval in self._jobs():
            job = scheduler.get_job(job_id)
            if job is None or not isinstance(job.trigger, IntervalTrigger):
                continue
            if abs(job.trigger.interval.total_seconds() - interval) > 0.001:
                log.info("job %s now every %.0fs", job_id, interval)
                scheduler.reschedule_job(
                    job_id,
                    trigger=IntervalTrigger(
                        seconds=interval, jitter=_jitter(self.config, interval)
                    ),
                )

    def stop(self) -> None:
        self._stopping.set()
        self.monitors.stop()
        with self._watch_lock:
            if self.watcher is not None:
                self.watcher.stop()
                self.watcher = None

    # -- helpers --------------------------------------------------------------------------
    def _note_error(self, message: str) -> None:
        log.warning("%s", message)
        self._safely(self.state.record_error, message[:1000])

    @staticmethod
    def _safely(function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        # Status and cache files are for people; failing to write them must not stop the work.
        try:
            function(*args, **kwargs)
        except (OSError, ValueError) as exc:
            log.warning("could not write agent state: %r", exc)
