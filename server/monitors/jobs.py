"""The monitor scheduler ``xunjian server run`` starts in every server process.

Every second, and whenever a probe ends, it claims the monitors that are due, with one
conditional UPDATE per monitor (``WHERE id = ? AND next_due_at = <the value it read> AND the
claim is free``): of two processes reading the same due monitor, one moves its
``next_due_at`` on and probes it, the other's UPDATE changes no row. A monitor an agent runs
(``agent_id`` set: an internal-only site) is never claimed: its results arrive from the agent
(server/monitors/agent_intake.py). Probes run on a bounded
thread pool (``monitor_threads``); a process claims no more than its pool can start. The
claim (``claimed_until``) outlives the probe's own limits, so a monitor whose interval is
shorter than its timeout is not probed twice at once; a process killed mid-probe leaves the
claim to expire.

Once a minute it also rolls up history, purges old rows and sends the daily digest; each of
those happens once across processes (server/monitors/history.py).
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

from flask import Flask
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from server.alerts.channels import Channel
from server.alerts.outbox import worker_name
from server.monitors import digest, history
from server.monitors.models import Monitor
from server.monitors.record import DefacementWords, probe_monitor
from server.state import EXTENSION_KEY, ServerState
from server.store.models import utcnow

logger = logging.getLogger("xunjian.server.monitors")
TICK_SECONDS = 1.0
HOUSEKEEPING_SECONDS = 60
CLAIM_SLACK_SECONDS = 30


def claim_due(
    engine: Engine, name: str, limit: int, now: datetime.datetime | None = None
) -> list[int]:
    """Claim up to ``limit`` due monitors for this process; their ids."""
    if limit <= 0:
        return []
    now = now or utcnow()
    free = or_(Monitor.claimed_until.is_(None), Monitor.claimed_until < now)
    with engine.connect() as connection:
        due = connection.execute(
            select(
                Monitor.id,
                Monitor.next_due_at,
                Monitor.interval_seconds,
                Monitor.timeout_seconds,
                Monitor.max_redirects,
            )
            .where(
                Monitor.enabled.is_(True),
                Monitor.agent_id.is_(None),
                Monitor.next_due_at <= now,
                free,
            )
            .order_by(Monitor.next_due_at)
            .limit(limit)
        ).all()
    if not due:
        return []
    won = []
    with engine.begin() as connection:
        for monitor_id, due_at, interval, timeout, redirects in due:
            step = datetime.timedelta(seconds=interval)
            # Keep the cadence; after a pause (server down), start again from now.
            following = due_at + step if due_at + step > now else now + step
            hold = timeout * (redirects + 1) * 2 + CLAIM_SLACK_SECONDS
            changed = connection.execute(
                update(Monitor)
                .where(
                    Monitor.id == monitor_id,
                    Monitor.next_due_at == due_at,
                    Monitor.agent_id.is_(None),
                    free,
                )
                .values(
                    next_due_at=following,
                    claimed_by=name,
                    claimed_until=now + datetime.timedelta(seconds=hold),
                )
            ).rowcount
            if changed == 1:
                won.append(monitor_id)
    return won


class MonitorScheduler(threading.Thread):
    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(name="xunjian-monitors", daemon=True)
        self.state = state
        self.stop = stop
        self.name_ = worker_name()
        self.threads = state.config.monitor_threads
        self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="xunjian-probe")
        self.words = DefacementWords(state.engine)
        self.running = 0
        self.lock = threading.Lock()
        self.last_housekeeping = 0.0
        self.wake = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.tick()
                # Next tick in a second, or as soon as a probe ends and frees a thread: with
                # many due monitors the pool stays busy instead of waiting for the clock.
                self.wake.wait(TICK_SECONDS)
                self.wake.clear()
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)

    def tick(self) -> None:
        try:
            with self.lock:
                room = self.threads - self.running
            for monitor_id in claim_due(self.state.engine, self.name_, room):
                with self.lock:
                    self.running += 1
                future = self.pool.submit(self._probe, monitor_id)
                future.add_done_callback(self._done)
        except Exception:
            logger.exception("monitors: claiming due monitors failed; trying again")
        if time.monotonic() - self.last_housekeeping >= HOUSEKEEPING_SECONDS:
            self.last_housekeeping = time.monotonic()
            self.housekeeping()

    def _probe(self, monitor_id: int) -> None:
        try:
            probe_monitor(
                self.state.engine,
                monitor_id,
                self.words.get(),
                self.state.config.notify_channels,
                claimed_by=self.name_,
                addresses=self.state.config.monitor_addresses,
            )
        except Exception:
            logger.exception("monitors: probing monitor %s failed", monitor_id)

    def _done(self, _future: Future[None]) -> None:
        with self.lock:
            self.running -= 1
        self.wake.set()

    def channels_in_force(self) -> tuple[Channel, ...]:
        """The channels the alert worker uses: the console's (database) once someone saved
        them there, else config.json's; with their tiers, secrets opened."""
        # Imported here as server/alerts/delivery.py does: policy_settings imports the alerts.
        from server.policy_settings.alerting import load_alerting

        with Session(self.state.engine) as session:
            return load_alerting(session, self.state.config, data=self.state.paths.root).channels

    def housekeeping(self) -> None:
        config = self.state.config
        engine = self.state.engine
        for what, job in (
            ("roll-up", lambda: history.roll_up(engine)),
            ("purge", lambda: history.purge(engine, config.monitor_raw_retention_days)),
            (
                "daily digest",
                lambda: digest.send_digest_if_due(
                    engine,
                    self.channels_in_force(),
                    config.monitor_digest_time,
                    config.daily_timezone,
                ),
            ),
        ):
            try:
                job()
            except Exception:
                logger.exception("monitors: %s failed; trying again later", what)


def start_monitor_scheduler(app: Flask, stop: threading.Event) -> MonitorScheduler:
    scheduler = MonitorScheduler(app.extensions[EXTENSION_KEY], stop)
    scheduler.start()
    return scheduler
