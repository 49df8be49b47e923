"""The agent's own scheduler (agent/schedule.py): jittered intervals, one-off jobs run once,
never two runs of one job at once, a paused start runs nothing, shutdown stops it."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

from agent.schedule import IntervalTrigger, Scheduler


def test_the_next_run_is_an_interval_away_moved_at_most_by_the_jitter() -> None:
    trigger = IntervalTrigger(seconds=3600, jitter=300)
    start = datetime(2026, 12, 7, tzinfo=UTC)
    rng = random.Random(7)
    moments = [trigger.next_after(start, rng) - start for _ in range(500)]
    assert all(timedelta(seconds=3300) <= moment <= timedelta(seconds=3900) for moment in moments)
    assert len(set(moments)) > 400  # really spread, not one value
    assert trigger.interval == timedelta(hours=1)


def test_a_one_off_job_runs_once_and_is_forgotten() -> None:
    scheduler = Scheduler()
    ran = threading.Event()
    calls: list[int] = []

    def job() -> None:
        calls.append(1)
        ran.set()

    scheduler.start()
    try:
        scheduler.add_job(job, id="once")
        assert ran.wait(10)
        done = threading.Event()
        scheduler.add_job(done.set, id="after")  # runs after "once" was forgotten
        assert done.wait(10)
        assert calls == [1] and scheduler.get_job("once") is None
    finally:
        scheduler.shutdown()


def test_a_job_never_runs_twice_at_once_and_other_jobs_go_on() -> None:
    scheduler = Scheduler(max_workers=3)
    release, inside = threading.Event(), threading.Event()
    running, most, runs = [0], [0], [0]
    lock = threading.Lock()

    def slow() -> None:
        with lock:
            running[0] += 1
            runs[0] += 1
            most[0] = max(most[0], running[0])
        inside.set()
        release.wait(10)
        with lock:
            running[0] -= 1

    other = threading.Event()
    scheduler.start()
    try:
        # Due again at once, every time: only the running flag keeps a second run out.
        scheduler.add_job(slow, IntervalTrigger(seconds=0), id="slow")
        assert inside.wait(10)
        scheduler.add_job(other.set, id="other")
        assert other.wait(10)
        assert most[0] == 1 and runs[0] == 1
        release.set()
    finally:
        scheduler.shutdown()
        release.set()
    assert most[0] == 1


def test_a_paused_scheduler_keeps_its_jobs_and_runs_none() -> None:
    scheduler = Scheduler()
    ran = threading.Event()
    scheduler.add_job(ran.set, id="now")
    scheduler.add_job(ran.set, IntervalTrigger(seconds=60, jitter=6), id="every")
    scheduler.start(paused=True)
    assert {job.id for job in scheduler.get_jobs()} == {"now", "every"}
    scheduler.reschedule_job("every", IntervalTrigger(seconds=30))
    job = scheduler.get_job("every")
    assert job is not None and job.trigger == IntervalTrigger(seconds=30)
    assert not ran.is_set()
    scheduler.shutdown()


def test_a_stopping_service_can_wait_for_the_jobs_that_still_run() -> None:
    """After shutdown a running job goes on (a scan spooling its report); the service waits
    for it, boundedly, before it closes the spool the job writes to."""
    scheduler = Scheduler()
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def job() -> None:
        started.set()
        release.wait(10)
        finished.set()

    scheduler.start()
    scheduler.add_job(job, id="scan")
    assert started.wait(10)
    scheduler.shutdown(wait=True)
    assert scheduler.wait_for_jobs(0.2) is False  # still running: the bound is kept
    assert not finished.is_set()
    release.set()
    assert scheduler.wait_for_jobs(10) is True
    assert finished.is_set()
    assert Scheduler().wait_for_jobs(0) is True  # nothing runs: no wait
