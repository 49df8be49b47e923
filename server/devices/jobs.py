"""Device checks in the background of a server process (docs/devices.md).

**The sweep**: the thread ``xunjian server run`` starts in each server process. Every
``device_sweep_seconds`` it claims due devices one at a time (a conditional UPDATE,
server/devices/store.py ``claim``) and checks them, so with two worker processes a device is
still checked once. A claim left by a killed process expires after CLAIM_SECONDS.

**Check now** (``start_check``): checks started by a person in the console (a device's
host page, *Check now*): the same path as ``xunjian server device check --now --id N`` (claim
the device, then check it, server/devices/check.py), run in a thread of the server process so
the request answers at once. A check takes up to ``device_max_attempts`` x
``device_attempt_interval_ms`` plus the timeouts (half a minute with the defaults): too long
to hold a request open.

The device is made due first, so the check still happens if this process dies during it (the
claim expires, then the scheduled sweep of any process takes it). At most ``MAX_RUNNING`` such
checks run at once in one process; past that the device is only made due, and the next sweep
(``device_sweep_seconds``) checks it.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum

from flask import Flask
from sqlalchemy import update

from server.alerts.outbox import worker_name
from server.devices.check import run_claimed
from server.devices.models import Device
from server.devices.store import claim, due_ids
from server.state import ServerState
from server.store.models import utcnow
from server.threads import PeriodicWorker, start_worker

logger = logging.getLogger("xunjian.server.devices")


class DeviceWorker(PeriodicWorker):
    thread_name = "xunjian-devices"
    logger = logger
    failure = "devices: the scheduled check failed; trying again later"

    def interval(self) -> float:
        return self.state.config.device_sweep_seconds

    def tick(self) -> int:
        """Check every device due now that no other process holds; returns how many."""
        state, checked = self.state, 0
        me = worker_name()
        for device_id in due_ids(state.engine, utcnow()):
            if self.stop.is_set():
                break
            if not claim(state.engine, device_id, me, due_only=True):
                continue  # another process took it
            with state.sessions() as session:
                run_claimed(state.engine, session, device_id, state.config, state.paths.root, me)
            checked += 1
        return checked


def start_device_worker(app: Flask, stop: threading.Event) -> DeviceWorker:
    return start_worker(DeviceWorker, app, stop)


MAX_RUNNING = 4
_slots = threading.BoundedSemaphore(MAX_RUNNING)


class Started(StrEnum):
    STARTED = "started"  # checking now, in this process
    BUSY = "busy"  # another check of this device is running (another person, the schedule)
    QUEUED = "queued"  # this process runs MAX_RUNNING checks already: due for the next sweep
    MISSING = "missing"  # no such device


def start_check(state: ServerState, device_id: int) -> Started:
    """Make the device due and, when a slot is free and nobody holds it, check it now in a
    thread of this process."""
    with state.sessions() as session:
        changed = session.execute(
            update(Device).where(Device.id == device_id).values(due_at=utcnow())
        ).rowcount
        session.commit()
    if not changed:
        return Started.MISSING
    if not _slots.acquire(blocking=False):
        return Started.QUEUED
    handed_over = False
    try:
        me = worker_name()  # the claim's owner; the thread checks in its name
        if not claim(state.engine, device_id, me, due_only=False):
            return Started.BUSY
        thread = threading.Thread(
            target=_check,
            args=(state, device_id, me),
            name=f"xunjian-device-check-{device_id}",
            daemon=True,  # a stopping server does not wait; the claim expires, the schedule retries
        )
        thread.start()
        handed_over = True
    finally:
        if not handed_over:
            _slots.release()
    return Started.STARTED


def _check(state: ServerState, device_id: int, worker: str) -> None:
    try:
        with state.sessions() as session:
            run_claimed(state.engine, session, device_id, state.config, state.paths.root, worker)
    except Exception:
        logger.exception("device %d: the check started from the console failed", device_id)
    finally:
        _slots.release()
