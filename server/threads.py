"""The background threads of a server process (the alert sweep, the monitor scheduler, the device
sweep, the fleet's compliance counts, the leased jobs).

A feature's ``install(app)`` adds the function that starts its thread (``add_thread``);
``xunjian server run`` starts them all once its HTTP server runs and joins them when it stops
(server/serve.py, ``start_threads``). ``create_app`` starts nothing, so tests and a WSGI import
run no thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

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
