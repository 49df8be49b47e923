"""The background threads of a server process (the alert sweep, the monitor scheduler, the device
sweep, the fleet's compliance counts, the leased jobs).

A feature's ``install(app)`` adds the function that starts its thread (``add_thread``);
``xunjian server run`` starts them all once its HTTP server runs and joins them when it stops
(server/serve.py, ``start_threads``). ``create_app`` starts nothing, so tests and a WSGI import
run no thread. A thread that only ticks on an interval is a ``PeriodicWorker``, started with
``start_worker``.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, TypeVar

from flask import Flask

from server.state import EXTENSION_KEY as STATE_KEY
from server.state import ServerState

EXTENSION_KEY = "xunjian.threads"  # app.extensions: the ThreadSpecs install(app) added


@dataclass(frozen=True)
class ThreadSpec:
    start: Callable[[Flask, threading.Event], threading.Thread]  # starts it; it stops on the event
    join_seconds: float = 10.0  # how long a stopping process waits for it


@dataclass(frozen=True)
class Running:
    thread: threading.Thread
    join_seconds: float


def add_thread(
    app: Flask,
    start: Callable[[Flask, threading.Event], threading.Thread],
    join_seconds: float = 10,
) -> None:
    """Have ``xunjian server run`` start ``start(app, stop)`` in each server process."""
    app.extensions.setdefault(EXTENSION_KEY, []).append(ThreadSpec(start, join_seconds))


def start_threads(app: Flask, stop: threading.Event) -> list[Running]:
    """Start every thread the app's features added, in the order they added them."""
    specs: list[ThreadSpec] = app.extensions.get(EXTENSION_KEY, [])
    return [Running(spec.start(app, stop), spec.join_seconds) for spec in specs]


def join_threads(running: list[Running]) -> None:
    for item in running:
        item.thread.join(timeout=item.join_seconds)


class PeriodicWorker(threading.Thread, ABC):
    """A feature's thread that calls ``tick`` every ``interval()`` seconds until the process
    stops. A tick that raises is logged and tried again at the next: one bad tick (a database
    restarting) must not end the feature's work for the life of the process."""

    thread_name: ClassVar[str]
    logger: ClassVar[logging.Logger]
    failure: ClassVar[str]  # the log line when a tick raises

    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(name=self.thread_name, daemon=True)
        self.state = state
        self.stop = stop

    @abstractmethod
    def interval(self) -> float:
        """Seconds until the next tick (read each time: the config may say so)."""

    @abstractmethod
    def tick(self) -> object:
        """One round of the feature's work."""

    def run(self) -> None:
        while not self.stop.wait(self.interval()):
            try:
                self.tick()
            except Exception:
                self.logger.exception(self.failure)


Worker = TypeVar("Worker", bound=PeriodicWorker)


def start_worker(worker: type[Worker], app: Flask, stop: threading.Event) -> Worker:
    """Start ``worker`` on the app's state; it ends when ``stop`` is set."""
    running = worker(app.extensions[STATE_KEY], stop)
    running.start()
    return running
