"""The incident escalation thread that ``xunjian server run`` starts in each server process:
every ``alert_sweep_seconds`` it queues and sends the incidents' notifications
(server/incidents/escalation.py). Safe in several processes at once (unique notification per
incident and channel, claims by conditional UPDATE), so no leader lock, as the alert worker."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from server.incidents.escalation import IncidentEscalation
from server.state import EXTENSION_KEY, ServerState

logger = logging.getLogger("xunjian.server.incidents")


class IncidentWorker(threading.Thread):
    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(name="xunjian-incidents", daemon=True)
        self.state = state
        self.stop = stop
        self.escalation = IncidentEscalation(state.engine, state.config, state.paths.root)

    def run(self) -> None:
        while not self.stop.wait(self.state.config.alert_sweep_seconds):
            try:
                self.escalation.tick()
            except Exception:
                logger.exception("incidents: escalation failed; trying again later")


def start_incident_worker(app: Flask, stop: threading.Event) -> IncidentWorker:
    worker = IncidentWorker(app.extensions[EXTENSION_KEY], stop)
    worker.start()
    return worker
