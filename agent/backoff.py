"""Exponential backoff with full jitter for retries against the server.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads the retries of a
whole school's PCs after a server outage, instead of having them return in synchronised waves.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

# 2**62 times any sane base is far past any cap; stops float overflow after long outages.
_MAX_EXPONENT = 62


def full_jitter_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """A delay in ``[0, min(cap, base * 2**attempt)]`` for the ``attempt``-th retry (from 0)."""
    if attempt < 0:
        raise ValueError("attempt counts from 0")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    ceiling = min(cap, base * 2.0 ** min(attempt, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling)


class Backoff:
    """Remembers consecutive failures and says when the next attempt may be made."""

    def __init__(
        self,
        base: float,
        cap: float,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if base <= 0 or cap <= 0:
            raise ValueError("base and cap must be positive")
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()
        self._clock = clock
        self._not_before = 0.0

    def ready(self) -> bool:
        return self._clock() >= self._not_before

    def seconds_until_ready(self) -> float:
        return max(0.0, self._not_before - self._clock())

    def failed(self) -> float:
        """Record a failure; returns the delay chosen before the next attempt."""
        delay = full_jitter_delay(self.failures, self.base, self.cap, self._rng)
        self.failures += 1
        self._not_before = self._clock() + delay
        return delay

    def succeeded(self) -> None:
        self.failures = 0
        self._not_before = 0.0
