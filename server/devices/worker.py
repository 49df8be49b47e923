"""The device-check background thread that ``xunjian server run`` starts in each server
process. Every ``device_sweep_seconds`` it claims due devices one at a time (a conditional
UPDATE, server/devices/store.py ``claim``) and checks them, so with two worker processes a
device is still checked once. A claim left by a killed process expires after CLAIM_SECONDS."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from server.alerts.delivery import worker_name
from server.devices.check import run_claimed
from server.devices.store import claim, due_ids
from server.state import EXTENSION_KEY, ServerState
from server.store.models import utcnow

logger = logging.getLogger("xunjian.server.devices")


class DeviceWorker(threading.Thread):
    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(name="xunjian-devices", daemon=True)
        self.state = state
        self.stop = stop

    def run(self) -> None:
        while not self.stop.wait(self.state.config.device_sweep_seconds):
            try:
                self.tick()
            except Exception:
                logger.exception("devices: the scheduled check failed; trying again later")

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
    worker = DeviceWorker(app.extensions[EXTENSION_KEY], stop)
    worker.start()
    return worker
