"""Running the monitors the server assigned this agent: each at its interval, on a small pool
of threads, every outcome posted to the server as soon as it is made.

While the server is unreachable, the **latest** outcome of each monitor waits in memory and an
older one it replaces is dropped and counted; the count travels with the next outcome that
gets through (``dropped``), so the server logs and shows how many checks it never saw. The
waiting outcomes are bounded in bytes (``monitor_pending_max_bytes``: the oldest go first,
counted the same way) and in age (a day; the server refuses older ones). They are not written
to disk: after a restart the next check simply makes a new one. Delivery retries with the
reports' backoff settings, and an outcome the server refuses for good (400, 403, 413) is
dropped and logged, never retried.

Nothing here raises into the scheduler: a failed fetch is an outcome like any other, and a
failed delivery waits for the next try.
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from agent.backoff import Backoff
from agent.monitors.collector import collect, outcome_document
from agent.monitors.spec import MonitorSpec, parse_monitor_list
from agent.state import AgentConfig
from agent.transport import Refused, Transport, TransportError
from xunjian.core.contract import PATH_MONITOR_OUTCOMES, PATH_MONITORS
from xunjian.core.probe import AddressPolicy, Fetch

log = logging.getLogger("xunjian.agent.monitors")
MAX_PENDING_SECONDS = 86_400.0


@dataclass(frozen=True)
class Pending:
    """An outcome not yet delivered."""

    monitor_id: int
    fetched: Fetch
    checked_at: datetime.datetime
    queued_at: float  # monotonic

    @property
    def size(self) -> int:
        return len(self.fetched.body)


class MonitorRunner:
    def __init__(
        self,
        transport: Transport,
        config: AgentConfig,
        rng: random.Random | None = None,
        on_error: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.threads = config.monitor_threads
        self.addresses = AddressPolicy.allowing(config.monitor_allowed_networks)
        self.pending_max_bytes = config.monitor_pending_max_bytes
        self.backoff = Backoff(config.backoff_base_seconds, config.backoff_cap_seconds, rng)
        self._on_error = on_error or (lambda message: log.warning("%s", message))
        self._clock = clock
        self._lock = threading.Lock()
        self._deliver_lock = threading.Lock()
        self._stopping = threading.Event()
        self._specs: dict[int, MonitorSpec] = {}
        self._due: dict[int, float] = {}
        self._running: set[int] = set()
        # Insertion order is age order: the oldest waiting outcome comes first.
        self._pending: dict[int, Pending] = {}
        self._dropped: dict[int, int] = {}
        self._in_flight: Pending | None = None
        self.dropped_total = 0
        self._pool: ThreadPoolExecutor | None = None

    # -- what to run ----------------------------------------------------------------------
    @property
    def specs(self) -> list[MonitorSpec]:
        with self._lock:
            return list(self._specs.values())

    def refresh(self) -> list[MonitorSpec] | None:
        """Fetch this agent's list; on failure keep the last one (and say why)."""
        try:
            specs = parse_monitor_list(self.transport.get_json(PATH_MONITORS))
        except TransportError as exc:
            self._on_error(f"monitor list not fetched, keeping the last one: {exc}")
            return None
        now = self._clock()
        with self._lock:
            before = self._specs
            self._specs = {spec.id: spec for spec in specs}
            for monitor_id in list(self._due):
                if monitor_id not in self._specs:
                    del self._due[monitor_id]
            for spec in specs:
                old = before.get(spec.id)
                if old is None:
                    self._due[spec.id] = now  # a new monitor is checked at once
                elif old.interval_seconds != spec.interval_seconds:
                    self._due[spec.id] = min(self._due[spec.id], now + spec.interval_seconds)
            for monitor_id in list(self._pending):
                if monitor_id not in self._specs:
                    # No longer ours: the server would refuse it (403).
                    del self._pending[monitor_id]
                    self._dropped.pop(monitor_id, None)
        if set(before) != {spec.id for spec in specs}:
            log.info("running %d page monitor(s): %s", len(specs), [spec.id for spec in specs])
        return specs

    # -- checking -------------------------------------------------------------------------
    def tick(self) -> int:
        """Start the checks that are due on the pool, and deliver what waits; the count
        started. Called every second by the agent's scheduler."""
        now = self._clock()
        started: list[MonitorSpec] = []
        with self._lock:
            if self._stopping.is_set():
                return 0
            for monitor_id, spec in self._specs.items():
                due = self._due.get(monitor_id, now)
                if due > now or monitor_id in self._running:
                    continue
                # Keep the cadence; after a pause (a sleeping PC), start again from now.
                step = spec.interval_seconds
                self._due[monitor_id] = due + step if due + step > now else now + step
                self._running.add(monitor_id)
                started.append(spec)
            waiting = bool(self._pending)
        for spec in started:
            self._executor().submit(self._check, spec)
        if waiting and not started:
            # On the pool too: a slow server must not hold the scheduler's tick.
            self._executor().submit(self.deliver)
        return len(started)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="xunjian-monitor")
        return self._pool

    def _check(self, spec: MonitorSpec) -> None:
        try:
            self.check_now(spec)
        except Exception:  # the last line of defence: a pool thread must not die silently
            log.exception("monitor %s: the check failed", spec.id)
        finally:
            with self._lock:
                self._running.discard(spec.id)

    def check_now(self, spec: MonitorSpec) -> None:
        """Fetch one monitor now, queue its outcome and deliver what waits."""
        fetched, checked_at = collect(spec, self.addresses)
        self._queue(Pending(spec.id, fetched, checked_at, self._clock()))
        self.deliver()

    # -- what waits for the server --------------------------------------------------------
    def _queue(self, entry: Pending) -> None:
        with self._lock:
            old = self._pending.pop(entry.monitor_id, None)
            if old is not None and old is not self._in_flight:
                self._drop(old)
            self._pending[entry.monitor_id] = entry
            self._bound(entry)

    def _bound(self, newest: Pending) -> None:
        """Drop the oldest waiting outcomes past the age and byte bounds (lock held)."""
        now = self._clock()
        total = sum(entry.size for entry in self._pending.values())
        for entry in list(self._pending.values()):
            too_old = now - entry.queued_at > MAX_PENDING_SECONDS
            if entry is newest or not (too_old or total > self.pending_max_bytes):
                continue
            del self._pending[entry.monitor_id]
            total -= entry.size
            self._drop(entry)

    def _drop(self, entry: Pending) -> None:
        self._dropped[entry.monitor_id] = self._dropped.get(entry.monitor_id, 0) + 1
        self.dropped_total += 1

    @property
    def waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    def dropped(self, monitor_id: int) -> int:
        with self._lock:
            return self._dropped.get(monitor_id, 0)

    def deliver(self) -> int:
        """Post waiting outcomes, oldest first, until none waits or the server fails."""
        if not self._deliver_lock.acquire(blocking=False):
            return 0  # another thread is delivering; it takes the new outcome too
        try:
            return self._deliver()
        finally:
            self._deliver_lock.release()

    def _deliver(self) -> int:
        sent = 0
        while not self._stopping.is_set() and self.backoff.ready():
            with self._lock:
                entry = next(iter(self._pending.values()), None)
                if entry is None:
                    break
                self._in_flight = entry
                dropped = self._dropped.get(entry.monitor_id, 0)
            document = outcome_document(entry.monitor_id, entry.fetched, entry.checked_at, dropped)
            try:
                answer = self.transport.post_json(PATH_MONITOR_OUTCOMES, document)
            except Refused as exc:
                # 403: the monitor is no longer this agent's; sending it again cannot help.
                if exc.retryable and exc.status != 403:
                    self._failed(entry, f"monitor {entry.monitor_id}: outcome not accepted: {exc}")
                    break
                # The same outcome would be refused forever: drop it and say so.
                self._settled(entry, dropped, delivered=False)
                self._on_error(f"monitor {entry.monitor_id}: outcome refused, dropped: {exc}")
                continue
            except TransportError as exc:
                self._failed(entry, f"monitor {entry.monitor_id}: outcome not sent: {exc}")
                break
            self.backoff.succeeded()
            self._settled(entry, dropped, delivered=True)
            sent += 1
            if not (isinstance(answer, dict) and answer.get("recorded") is True):
                log.info("monitor %s: outcome not recorded: %r", entry.monitor_id, answer)
        return sent

    def _settled(self, entry: Pending, dropped: int, delivered: bool) -> None:
        with self._lock:
            self._in_flight = None
            if self._pending.get(entry.monitor_id) is entry:
                del self._pending[entry.monitor_id]
            if delivered:
                # The server now knows of these; later drops start a new count.
                self._dropped[entry.monitor_id] = self._dropped.get(entry.monitor_id, 0) - dropped
            else:
                self._drop(entry)

    def _failed(self, entry: Pending, message: str) -> None:
        with self._lock:
            self._in_flight = None
            if self._pending.get(entry.monitor_id) is not entry:
                self._drop(entry)  # a newer outcome replaced it while it was being sent
        delay = self.backoff.failed()
        self._on_error(f"{message}; retrying in {delay:.0f}s")

    def stop(self) -> None:
        self._stopping.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
