"""The agent service's scheduler: interval jobs with jitter and one-off jobs, each run on a
thread of its own, at most ``max_workers`` at a time, never two runs of one job at once, and a
job that missed runs (a PC asleep) runs once, not once per missed interval.

It replaced APScheduler (issue 15), which the idle agent kept resident at 4.9 MB for this
much: its import pulls in asyncio, multiprocessing, importlib.metadata (zipfile, csv, email),
lzma, bz2 and tzlocal. The names follow APScheduler's where the agent used them
(``add_job``, ``get_job``, ``reschedule_job``, ``IntervalTrigger.interval`` and ``.jitter``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger("xunjian.agent.schedule")
# The loop wakes at least this often, so a clock that jumped (a PC resumed) is noticed.
MAX_SLEEP_SECONDS = 30.0


@dataclass(frozen=True)
class IntervalTrigger:
    """Every ``seconds``, each run moved by up to ``jitter`` seconds either way, so a fleet
    that started together does not stay in step."""

    seconds: float
    jitter: float = 0.0

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def next_after(self, moment: datetime, rng: random.Random) -> datetime:
        shift = rng.uniform(-self.jitter, self.jitter) if self.jitter else 0.0
        return moment + timedelta(seconds=max(self.seconds + shift, 0.0))


@dataclass
class Job:
    id: str
    name: str
    func: Callable[[], Any]
    trigger: IntervalTrigger | None  # None: run once
    next_run_time: datetime | None
    running: bool = False


def _due(job: Job, now: datetime) -> bool:
    return not job.running and job.next_run_time is not None and job.next_run_time <= now


class Scheduler:
    def __init__(self, max_workers: int = 3, rng: random.Random | None = None) -> None:
        self._jobs: dict[str, Job] = {}
        self._wake = threading.Condition()
        self._slots = threading.BoundedSemaphore(max_workers)
        self._rng = rng or random.Random()
        self._stopped = False
        self._thread: threading.Thread | None = None

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def add_job(
        self,
        func: Callable[[], Any],
        trigger: IntervalTrigger | None = None,
        *,
        id: str,  # APScheduler's name, kept for the callers
        name: str | None = None,
        next_run_time: datetime | None = None,
        replace_existing: bool = False,
    ) -> Job:
        if next_run_time is None:
            now = self.now()
            next_run_time = now if trigger is None else trigger.next_after(now, self._rng)
        job = Job(id, name or id, func, trigger, next_run_time)
        with self._wake:
            if id in self._jobs and not replace_existing:
                raise ValueError(f"a job {id!r} exists already")
            self._jobs[id] = job
            self._wake.notify()
        return job

    def get_job(self, job_id: str) -> Job | None:
        with self._wake:
            return self._jobs.get(job_id)

    def get_jobs(self) -> list[Job]:
        with self._wake:
            return list(self._jobs.values())

    def reschedule_job(self, job_id: str, trigger: IntervalTrigger) -> None:
        with self._wake:
            job = self._jobs[job_id]
            job.trigger = trigger
            job.next_run_time = trigger.next_after(self.now(), self._rng)
            self._wake.notify()

    def start(self, paused: bool = False) -> None:
        """Run the jobs from now on; ``paused``: keep them as computed, run none (tests)."""
        if paused or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="xunjian-scheduler", daemon=True)
        self._thread.start()

    def shutdown(self, wait: bool = False) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        if wait and self._thread is not None:
            self._thread.join()

    def wait_for_jobs(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the jobs that are running to end; True when none
        runs. The service calls it after ``shutdown`` and before closing what the jobs use (the
        spool's database): a scan that ends while the agent stops still spools its report and
        must not find the spool closed under it."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while any(job.running for job in self._jobs.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._wake.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopped:
                    return
                now = self.now()
                due = [
                    job
                    for job in self._jobs.values()
                    if not job.running
                    and job.next_run_time is not None
                    and job.next_run_time <= now
                ]
                if not due:
                    waiting = [
                        (job.next_run_time - now).total_seconds()
                        for job in self._jobs.values()
                        if not job.running and job.next_run_time is not None
                    ]
                    self._wake.wait(min([MAX_SLEEP_SECONDS, *waiting]))
                    continue
                for job in due:
                    job.running = True
                    if job.trigger is None:
                        job.next_run_time = None
                    else:
                        # From now, not from the missed time: missed runs are one run.
                        job.next_run_time = job.trigger.next_after(now, self._rng)
            for job in due:
                self._slots.acquire()
                threading.Thread(target=self._run, args=(job,), name=f"job-{job.id}").start()

    def _run(self, job: Job) -> None:
        try:
            job.func()
        except Exception:  # the agent's jobs guard themselves; this is the last line
            log.exception("job %s failed", job.name)
        finally:
            self._slots.release()
            with self._wake:
                job.running = False
                if job.trigger is None and self._jobs.get(job.id) is job:
                    del self._jobs[job.id]
                self._wake.notify_all()  # the loop, and a stopping service's wait_for_jobs
