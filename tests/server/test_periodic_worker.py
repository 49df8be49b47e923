"""The feature threads' loop (server/threads.py, ``PeriodicWorker``): a tick that raises is
logged and the next tick still comes; the thread ends when the process stops it."""

from __future__ import annotations

import logging
import threading

import pytest

from server.threads import PeriodicWorker
from tests.harness import wait_for
from tests.server.conftest import Server


class Flaky(PeriodicWorker):
    thread_name = "xunjian-test-flaky"
    logger = logging.getLogger("xunjian.test.flaky")
    failure = "flaky: the tick failed; trying again later"

    def __init__(self, server: Server, stop: threading.Event) -> None:
        super().__init__(server.state, stop)
        self.ticks = 0

    def interval(self) -> float:
        return 0.01

    def tick(self) -> object:
        self.ticks += 1
        if self.ticks == 1:
            raise RuntimeError("the database is restarting")
        return self.ticks


def test_a_failing_tick_is_logged_and_the_next_one_runs(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()
    worker = Flaky(server, stop)
    assert (worker.name, worker.daemon) == ("xunjian-test-flaky", True)
    worker.start()
    wait_for("a tick after the failed one", lambda: worker.ticks >= 2, timeout=30, interval=0.01)
    stop.set()
    worker.join(timeout=30)
    assert not worker.is_alive()
    [failed] = [record for record in caplog.records if record.name == "xunjian.test.flaky"]
    assert failed.getMessage() == Flaky.failure and failed.exc_info is not None
