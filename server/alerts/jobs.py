"""The alert background thread that ``xunjian server run`` starts in each server process.
Every ``alert_sweep_seconds`` it sweeps for silent agents (server/alerts/silent.py), queues
notifications for the channels in force (config.json's, or those edited in the console:
server/policy_settings/alerting.py) and sends the due ones (server/alerts/delivery.py).
Several processes running it at once is safe (unique open_key, unique notification per alert
and channel, claims by conditional UPDATE), so there is no leader lock."""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from server.alerts.delivery import ChannelDelivery
from server.alerts.silent import sweep_silent_agents
from server.state import ServerState
from server.threads import PeriodicWorker, start_worker

logger = logging.getLogger("xunjian.server.alerts")


class AlertWorker(PeriodicWorker):
    thread_name = "xunjian-alerts"
    logger = logger
    failure = "alerts: the worker's tick failed; trying again later"

    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(state, stop)
        self.started_at = time.monotonic()
        # The channels in force: config.json's, or the console's (re-read on every change).
        self.delivery = ChannelDelivery(state.engine, state.config, state.paths.root)

    def interval(self) -> float:
        return self.state.config.alert_sweep_seconds

    def tick(self) -> None:
        config = self.state.config
        # After the server itself was down, every agent's last_seen is old: give them a full
        # offline period to report before calling any of them silent.
        if time.monotonic() - self.started_at >= config.offline_after_seconds:
            try:
                outcome = sweep_silent_agents(self.state.engine, config.offline_after_seconds)
            except Exception:
                logger.exception("alerts: the silent-agent sweep failed; trying again later")
            else:
                if outcome.opened or outcome.resolved:
                    logger.info(
                        "alerts: %d agent(s) went silent, %d came back",
                        outcome.opened,
                        outcome.resolved,
                    )
        try:
            self.delivery.tick()
        except Exception:
            logger.exception("alerts: delivery failed; trying again later")


def start_alert_worker(app: Flask, stop: threading.Event) -> AlertWorker:
    return start_worker(AlertWorker, app, stop)
