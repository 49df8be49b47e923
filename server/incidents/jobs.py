"""The incident escalation thread that ``xunjian server run`` starts in each server process:
every ``alert_sweep_seconds`` it queues and sends the incidents' notifications
(server/incidents/escalation.py). Safe in several processes at once (unique notification per
incident and channel, claims by conditional UPDATE), so no leader lock, as the alert worker."""

from __future__ import annotations

import logging
import threading

from flask import Flask

from server.incidents.escalation import IncidentEscalation
from server.state import ServerState
from server.threads import PeriodicWorker, start_worker


class IncidentWorker(PeriodicWorker):
    thread_name = "xunjian-incidents"
    logger = logging.getLogger("xunjian.server.incidents")
    failure = "incidents: escalation failed; trying again later"

    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(state, stop)
        self.escalation = IncidentEscalation(state.engine, state.config, state.paths.root)

    def interval(self) -> float:
        return self.state.config.alert_sweep_seconds

    def tick(self) -> object:
        return self.escalation.tick()


def start_incident_worker(app: Flask, stop: threading.Event) -> IncidentWorker:
    return start_worker(IncidentWorker, app, stop)
