"""Concurrent appenders in several threads and several processes, on each database: the chain
stays one unbroken line (no number twice, no fork), and every checkpoint verifies.

Without the head lock two appenders read the same head: one then fails on the primary key or
the chain forks, and these tests fail."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from server.oplog.chain import EntryFields
from server.oplog.models import OplogCheckpoint, OplogEntry
from server.oplog.settings import OplogSettings
from server.oplog.signing import ANCHORS_NAME, verification_key
from server.oplog.store import OperationLog
from server.oplog.verify import verify_log
from server.store.engine import make_engine
from tests.server.conftest import Server

REPO = Path(__file__).resolve().parents[2]
PER_WORKER = 25
# Small, so checkpoints (and the key's lazy creation) also happen under contention.
EVERY = 7


def append_many(data: str, database_url: str, actor: str, count: int) -> None:
    """The body of one appending process (run with ``python -c``)."""
    engine = make_engine(database_url)
    log = OperationLog(engine, Path(data), OplogSettings(checkpoint_every=EVERY))
    for index in range(count):
        log.append(EntryFields.make("test.concurrent", actor=actor, details={"index": index}))
    engine.dispose()


def _assert_one_chain(server: Server, actors: list[str]) -> None:
    total = len(actors) * PER_WORKER
    with server.state.sessions() as session:
        rows = list(session.execute(select(OplogEntry.seq, OplogEntry.actor)))
        checkpoints = list(session.scalars(select(OplogCheckpoint.seq)))
    assert sorted(seq for seq, _actor in rows) == list(range(1, total + 1))
    assert Counter(actor for _seq, actor in rows) == dict.fromkeys(actors, PER_WORKER)
    assert len(checkpoints) == total // EVERY
    verdict = verify_log(
        server.state.engine, verification_key(server.data), server.data / ANCHORS_NAME
    )
    assert verdict.ok, verdict.problem
    assert verdict.entries == total


def test_threads_append_one_chain(server: Server) -> None:
    log = OperationLog(server.state.engine, server.data, OplogSettings(checkpoint_every=EVERY))
    actors = [f"thread-{index}" for index in range(8)]
    barrier = threading.Barrier(len(actors))
    failures: list[BaseException] = []

    def work(actor: str) -> None:
        barrier.wait()
        try:
            for index in range(PER_WORKER):
                log.append(EntryFields.make("test.concurrent", actor=actor, details={"i": index}))
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    _assert_one_chain(server, actors)


def test_processes_and_threads_append_one_chain(server: Server) -> None:
    database_url = server.state.config.database_url
    processes = [f"process-{index}" for index in range(4)]
    code = (
        "import sys; from tests.server.test_oplog_concurrency import append_many; "
        "append_many(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(server.data), database_url, actor, str(PER_WORKER)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for actor in processes
    ]
    # This process appends too, from two threads, while the children run.
    local = ["local-0", "local-1"]
    threads = [
        threading.Thread(
            target=append_many, args=(str(server.data), database_url, actor, PER_WORKER)
        )
        for actor in local
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for child in children:
        _out, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
    _assert_one_chain(server, processes + local)
