"""Bounded counting of unauthenticated traffic per source, in each server process.

Two uses (issue 14): the operation log keeps every refusal as evidence (POLICY.md E12), but a
flood of the same refusal from one source must not write an entry each (300 bad signatures in
1.2 s were 300 entries kept for 180 days); and the agent API's unauthenticated paths answer
429 to a source that keeps failing.

Memory is bounded: at most ``max_keys`` keys; past that the stalest key is folded away (its
count reported to the caller, never lost silently). Counts live in one process: with several
worker processes each keeps its own, so a flood costs at most one entry per key, window and
process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass
class Window:
    """One key's current window: when it opened and what was seen in it."""

    opened: float
    count: int = 0
    first_port: int | None = None
    last_port: int | None = None


@dataclass(frozen=True)
class Closed:
    """A window that ended with repeats not yet written: ``count`` beyond the first."""

    key: Hashable
    window: Window


class RepeatCounter:
    """The first event of a key in each ``window_seconds`` passes; the rest are counted and
    handed back as :class:`Closed` when their window ends (or the key is evicted)."""

    def __init__(
        self,
        window_seconds: float = 60.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._windows: OrderedDict[Hashable, Window] = OrderedDict()
        self._lock = threading.Lock()

    def see(self, key: Hashable, port: int | None = None) -> tuple[bool, list[Closed]]:
        """(whether this event is the first of its window, the windows that ended meanwhile
        with repeats to report)."""
        now = self._clock()
        closed: list[Closed] = []
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.opened >= self.window_seconds:
                if window.count:
                    closed.append(Closed(key, window))
                del self._windows[key]
                window = None
            first = window is None
            if window is None:
                window = Window(opened=now)
                self._windows[key] = window
            else:
                window.count += 1
                window.first_port = window.first_port if window.first_port else port
                window.last_port = port
            self._windows.move_to_end(key)
            closed.extend(self._expire(now))
        return first, closed

    def _expire(self, now: float) -> list[Closed]:
        """Windows past their end (oldest first, as the order is of last use) and keys over
        the bound."""
        closed: list[Closed] = []
        while self._windows:
            key, window = next(iter(self._windows.items()))
            over = len(self._windows) > self.max_keys
            if not over and now - window.opened < self.window_seconds:
                break
            del self._windows[key]
            if window.count:
                closed.append(Closed(key, window))
        return closed

    def flush(self) -> list[Closed]:
        """Every window with repeats, ended or not (at shutdown, and for tests)."""
        with self._lock:
            closed = [Closed(k, w) for k, w in self._windows.items() if w.count]
            self._windows.clear()
        return closed


class FailureLimit:
    """At most ``limit`` failures per source in ``window_seconds``; past that, ``blocked``
    says so until the window ends. Bounded like RepeatCounter (the stalest source goes)."""

    def __init__(
        self,
        limit: int = 30,
        window_seconds: float = 60.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._windows: OrderedDict[str, Window] = OrderedDict()
        self._lock = threading.Lock()

    def _current(self, source: str, now: float) -> Window | None:
        window = self._windows.get(source)
        if window is not None and now - window.opened >= self.window_seconds:
            del self._windows[source]
            return None
        return window

    def blocked(self, source: str) -> float:
        """Seconds until ``source`` may try again (0: it may now)."""
        now = self._clock()
        with self._lock:
            window = self._current(source, now)
            if window is None or window.count < self.limit:
                return 0.0
            return max(self.window_seconds - (now - window.opened), 0.0)

    def failed(self, source: str) -> None:
        now = self._clock()
        with self._lock:
            window = self._current(source, now)
            if window is None:
                window = Window(opened=now)
                self._windows[source] = window
            window.count += 1
            self._windows.move_to_end(source)
            while len(self._windows) > self.max_keys:
                self._windows.popitem(last=False)
