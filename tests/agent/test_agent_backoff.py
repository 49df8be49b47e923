"""Backoff: full jitter inside exponential bounds, capped, and reset by a success."""

from __future__ import annotations

import random

import pytest

from agent.backoff import Backoff, full_jitter_delay


def test_delays_stay_within_the_exponential_ceiling_and_the_cap() -> None:
    rng = random.Random(7)
    for attempt in range(80):
        ceiling = min(60.0, 1.0 * 2**attempt)
        for _ in range(50):
            delay = full_jitter_delay(attempt, base=1.0, cap=60.0, rng=rng)
            assert 0.0 <= delay <= ceiling


def test_delays_are_spread_not_fixed() -> None:
    rng = random.Random(3)
    draws = [full_jitter_delay(10, base=1.0, cap=100.0, rng=rng) for _ in range(200)]
    # Full jitter: both short and long waits occur, so a crowd of agents spreads out.
    assert min(draws) < 25.0 < 75.0 < max(draws)


def test_huge_attempt_numbers_do_not_overflow() -> None:
    assert full_jitter_delay(10_000, base=5.0, cap=900.0, rng=random.Random(1)) <= 900.0


@pytest.mark.parametrize(("attempt", "base", "cap"), [(-1, 1.0, 1.0), (0, 0.0, 1.0), (0, 1, 0)])
def test_bad_arguments(attempt: int, base: float, cap: float) -> None:
    with pytest.raises(ValueError):
        full_jitter_delay(attempt, base, cap, random.Random())


def test_backoff_waits_after_failures_and_resets_after_success() -> None:
    now = [100.0]
    backoff = Backoff(base=2.0, cap=30.0, rng=random.Random(5), clock=lambda: now[0])
    assert backoff.ready()
    delays = [backoff.failed() for _ in range(10)]
    assert backoff.failures == 10
    assert all(0.0 <= d <= min(30.0, 2.0 * 2**i) for i, d in enumerate(delays))
    now[0] += delays[-1] + 0.001
    assert backoff.ready()
    backoff.failed()
    backoff.succeeded()
    assert backoff.failures == 0
    assert backoff.ready()
    assert backoff.seconds_until_ready() == 0.0


def test_not_ready_until_the_delay_has_passed() -> None:
    now = [0.0]
    # A large base makes a zero draw practically impossible for this seed.
    backoff = Backoff(base=1000.0, cap=1000.0, rng=random.Random(11), clock=lambda: now[0])
    delay = backoff.failed()
    assert delay > 0
    assert not backoff.ready()
    now[0] = delay
    assert backoff.ready()
