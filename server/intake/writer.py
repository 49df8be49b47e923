"""Group commit: one writer per database and process commits many reports per transaction.

A request thread decodes, authenticates and prepares its report (``prepare``: every row's
values and digests) without any lock, hands it to the writer of its engine and waits until the
transaction holding it has committed: "stored" still means durable (SQLite's
``synchronous=FULL``, PostgreSQL's commit). Once it has its turn (below), the writer takes
everything that queued meanwhile, up to ``MAX_BATCH``, and writes it in one transaction: one commit
(one fsync) for many reports, and on SQLite fewer pages written per report, since reports of
one batch share the pages of the tables' tails and indexes.

Between processes, SQLite's own lock would make a waiting writer poll with sleeps
(busy_timeout); instead the writers of all processes queue on an exclusive ``flock`` of a
file beside the database, which the kernel hands to the next waiter the moment it is let go.
PostgreSQL needs no such turn (row locks), and there the writer sends a batch in pipeline
mode, every report's first statement ahead of the writes (``_read_ahead``): a batch waits for
the database about three times (heads, reads, commit) however many reports it holds.

Exactly once: a report's row is inserted with ON CONFLICT DO NOTHING, so a retry, even in the
same batch, is answered as a duplicate without spoiling the batch. If a batch fails for any
other reason it is rolled back and its reports are written again one per transaction, so one
bad report fails only its own request.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event

from server.intake.report import REFUSED, Ahead, IngestOutcome, Prepared, Writer
from server.store.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.pool import Pool

MAX_BATCH = 128
# A writer thread with nothing to do for this long ends; the next report starts another. So a
# process that stops receiving reports keeps no thread and connection. Disposing the engine
# ends an idle writer at once (``_released``).
IDLE_SECONDS = 30.0
logger = logging.getLogger("xunjian.server.intake")


@dataclass
class _Pending:
    prepared: Prepared
    done: threading.Event = field(default_factory=threading.Event)
    report_id: int | None = None
    error: BaseException | None = None


class GroupWriter:
    def __init__(self, engine: Engine) -> None:
        self._engine_ref = weakref.ref(engine)
        self._queue: deque[_Pending] = deque()
        self._wake = threading.Condition()
        self._running = False
        self._lock_path = _sqlite_lock_path(engine)
        event.listen(engine, "engine_disposed", self._released)

    def _released(self, _engine: Engine) -> None:
        """``Engine.dispose()`` closes the pool's idle connections but not the one this writer
        holds: wake the writer, which ends when it has nothing queued (closing its connection)
        and otherwise writes with a connection of the new pool. Without it, every disposed
        engine (a server's app torn down, a test's) kept a connection open until the writer's
        idle time ran out: on PostgreSQL, a busy test run reached "too many clients"."""
        with self._wake:
            self._wake.notify()

    def submit(self, prepared: Prepared) -> IngestOutcome:
        pending = _Pending(prepared)
        with self._wake:
            self._queue.append(pending)
            if not self._running:
                self._running = True
                threading.Thread(
                    target=self._run, name="xunjian-intake-writer", daemon=True
                ).start()
            else:
                self._wake.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        if pending.report_id == REFUSED:
            return IngestOutcome(stored=False, duplicate=False, refused=True)
        if pending.report_id is None:
            return IngestOutcome(stored=False, duplicate=True)
        return IngestOutcome(stored=True, duplicate=False, report_id=pending.report_id)

    def _run(self) -> None:
        connection: Connection | None = None
        pool: Pool | None = None
        try:
            while True:
                with self._wake:
                    if not self._queue:
                        self._wake.wait(IDLE_SECONDS)
                    if not self._queue:
                        self._running = False
                        return
                engine = self._engine_ref()
                if engine is None:
                    _fail(self._take(), RuntimeError("the database engine is gone"))
                    continue
                if connection is not None and pool is not engine.pool:
                    # The engine was disposed (a fork, a test's new connection settings): its
                    # new connections are the ones to write with.
                    _let_go(connection, disposed=True)
                    connection = None
                if connection is None:
                    pool = engine.pool
                    connection = engine.connect()
                connection = self._commit(engine, connection)
        finally:
            if connection is not None:
                engine = self._engine_ref()
                _let_go(connection, disposed=engine is None or pool is not engine.pool)

    def _take(self) -> list[_Pending]:
        with self._wake:
            return [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]

    def _commit(
        self, engine: Engine, connection: Connection, batch: list[_Pending] | None = None
    ) -> Connection:
        """Write and commit ``batch``, by default everything queued once this process has its
        turn: the reports that arrived while the other processes wrote go in the same
        transaction, so the busier the database, the larger the batches (fewer commits and
        fsyncs, pages shared). Measured (bench/intake.py, first reports on SQLite, load 8-10):
        taken before the turn, batches averaged 3.9 reports while the turn was busy 98 % of
        the time; taken in it, 7.3, and commit wall time per report fell from 5.2 to 2.6 ms.
        The bench's rates did not change measurably on the shared machine (docs/PERFORMANCE.md)."""
        taken: list[_Pending] = [] if batch is None else batch
        try:
            with self._turn():
                if batch is None:
                    taken = self._take()
                _write_batch(connection, taken)
        except Exception as error:
            if not taken:  # the turn itself failed: nothing was taken, nothing written
                _fail(self._take(), error)
                return connection
            batch = taken
            connection.invalidate()
            connection.close()
            connection = engine.connect()
            if len(batch) == 1:
                _fail(batch, error)
                return connection
            logger.warning(
                "intake: a batch of %d reports failed (%s); one by one", len(batch), error
            )
            for pending in batch:
                try:
                    with self._turn():
                        _write_batch(connection, [pending])
                except Exception as single:
                    connection.invalidate()
                    connection.close()
                    connection = engine.connect()
                    _fail([pending], single)
                else:
                    pending.done.set()
            return connection
        for pending in taken:
            pending.done.set()
        return connection

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """SQLite: this process's turn to write, among all processes on the database."""
        if self._lock_path is None:
            yield
            return
        import fcntl  # the server runs on Linux; the agent (Windows too) never imports this

        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # blocks in the kernel, GIL released
            yield
        finally:
            os.close(descriptor)  # closing lets the lock go


def _let_go(connection: Connection, disposed: bool) -> None:
    """Close the writer's connection. One of a disposed pool is closed for real: checked in to
    a pool the engine no longer holds, it would stay open until the garbage collector finds
    that pool (SQLAlchemy's ``Pool.dispose``: checked-out connections are not closed)."""
    if disposed:
        connection.invalidate()
    connection.close()


def _fail(batch: list[_Pending], error: BaseException) -> None:
    for pending in batch:
        pending.error = error
        pending.done.set()


def _write_batch(connection: Connection, batch: list[_Pending]) -> None:
    writer = Writer(connection)
    now = utcnow()
    connection.begin()
    try:
        raw = connection.connection.dbapi_connection
        pipeline = raw.pipeline() if writer.postgresql else contextlib.nullcontext()  # type: ignore[union-attr]
        with pipeline:
            cursor = raw.cursor()  # type: ignore[union-attr]
            try:
                aheads = _read_ahead(writer, cursor, batch, now) if writer.postgresql else {}
                ids = [
                    writer.write(cursor, pending.prepared, now, aheads.get(index))
                    for index, pending in enumerate(batch)
                ]
            finally:
                cursor.close()
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    for pending, report_id in zip(batch, ids, strict=True):
        pending.report_id = report_id


def _read_ahead(
    writer: Writer, cursor: Any, batch: list[_Pending], now: datetime.datetime
) -> dict[int, Ahead]:
    """PostgreSQL: send every report's head (its row and the unchanged test) before any report
    is written, then the reads the changed ones need, so that the batch waits for the
    database twice in all instead of once or twice per report: under load, each wait is a
    trip through the run queue for the backend and for this thread. Only a host's first
    report in the batch reads ahead; another of the same host (rare: a retry, a spool
    emptying) is written in its turn, after the first one's writes, as before. In process
    (2,000 reports, batches of 8, one writer thread), per report, writer CPU / wall / backend
    CPU: first 0.45 / 1.87 / 1.50 -> 0.34 / 1.56 / 1.39 ms, one changed 0.35 / 0.70 / 0.40 ->
    0.27 / 0.41 / 0.29 ms, unchanged 0.17 / 0.35 / 0.19 -> 0.12 / 0.21 / 0.13 ms."""
    heads: dict[int, Any] = {}
    hosts: set[str] = set()
    for index, pending in enumerate(batch):
        agent_id = pending.prepared.agent_id
        if agent_id in hosts:
            continue
        hosts.add(agent_id)
        head = writer.send_head(cursor, pending.prepared, now)
        if head is not None:
            heads[index] = head
    return {index: writer.read_ahead(head, batch[index].prepared) for index, head in heads.items()}


def _sqlite_lock_path(engine: Engine) -> str | None:
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    return str(Path(database).with_name(Path(database).name + "-writer.lock"))


_WRITERS: weakref.WeakKeyDictionary[Engine, GroupWriter] = weakref.WeakKeyDictionary()
_WRITERS_GUARD = threading.Lock()


def group_writer(engine: Engine) -> GroupWriter:
    with _WRITERS_GUARD:
        writer = _WRITERS.get(engine)
        if writer is None:
            writer = _WRITERS[engine] = GroupWriter(engine)
        return writer
