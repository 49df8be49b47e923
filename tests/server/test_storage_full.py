"""A full database is a 503 with ``Retry-After`` and a JSON reason, never a 500; nothing is
confirmed that was not stored, and the same app takes reports again once there is room.

The databases really are full: SQLite limited to the pages its file has (``PRAGMA
max_page_count``, so SQLite itself answers SQLITE_FULL), PostgreSQL with the test schema's
tables moved into a tablespace on a small tmpfs that is then filled (tests/small_disk.py), so
PostgreSQL fails to extend a table file with SQLSTATE 53100. The whole server on a filling disk
is tests/integration/test_disk_full.py.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy import event

from server.serve import StorageFullLines
from server.store.faults import storage_full
from tests.server.conftest import Server, SignedAgent
from tests.small_disk import SmallDisk

PG_DISK_BYTES = 8 * 1024 * 1024
# Reports sent into a full database before the test gives up on a refusal: the first may still
# fit into pages the tables have free.
MAX_REPORTS = 200


@dataclass
class FullStorage:
    """Fills and frees the database under a server app."""

    engine: sqlalchemy.Engine
    disk: SmallDisk | None = None
    tablespace: str = ""
    _limited: list[bool] = field(default_factory=lambda: [False])

    def fill(self) -> None:
        if self.disk is not None:
            self.disk.fill()
            return
        self._limited[0] = True
        self.engine.dispose()  # new connections take the limit

    def free(self) -> None:
        if self.disk is not None:
            self.disk.free()
            return
        self._limited[0] = False
        self.engine.dispose()

    def limit_sqlite(self, dbapi_connection: Any, _record: Any) -> None:
        if not self._limited[0]:
            return
        cursor = dbapi_connection.cursor()
        try:
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {int(pages)}")
        finally:
            cursor.close()


# The tables a report's transaction grows: moved to the small disk, so the intake meets the
# full disk at its first statement that needs a new page. Only these, not the whole schema's
# ~130 tables and indexes: each move copies and syncs a file, there and back. (The teardown's
# 55-85 s under the suite was DROP TABLESPACE waiting for a checkpoint: LaterCleanups.)
INTAKE_TABLES = ("reports", "result_states", "latest_results")


def _move_tables(connection: sqlalchemy.Connection, tablespace: str) -> None:
    for table in INTAKE_TABLES:
        connection.exec_driver_sql(f'ALTER TABLE "{table}" SET TABLESPACE "{tablespace}"')
    indexes = connection.exec_driver_sql(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
        "AND tablename = ANY(%(tables)s)",
        {"tables": list(INTAKE_TABLES)},
    )
    for (index,) in list(indexes):
        connection.exec_driver_sql(f'ALTER INDEX "{index}" SET TABLESPACE "{tablespace}"')


class LaterCleanups:
    """Cleanups a teardown hands to a thread, so that its worker goes on with other tests; the
    session waits for them at its end and fails if one did.

    Why: DROP TABLESPACE waits for a checkpoint (a moved table leaves its old file until the
    next one), and a checkpoint waits for the one in progress, which under the whole suite
    spreads over minutes (seen: 240 s, syncing 142,476 files). In the teardown that was 55-85 s
    of a worker doing nothing."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []
        self.errors: list[str] = []

    def start(self, what: str, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
            except Exception as error:  # reported when the session ends
                self.errors.append(f"{what}: {error!r}")

        thread = threading.Thread(target=run, name=what)
        thread.start()
        self.threads.append(thread)


@pytest.fixture(scope="session")
def later_cleanups() -> Iterator[LaterCleanups]:
    cleanups = LaterCleanups()
    yield cleanups
    for thread in cleanups.threads:
        thread.join()
    assert not cleanups.errors, cleanups.errors


def _drop_tablespace_and_unmount(
    url: sqlalchemy.URL, tablespace: str | None, disk: SmallDisk
) -> None:
    try:
        if tablespace is not None:
            engine = sqlalchemy.create_engine(url)
            try:
                with engine.connect() as connection:
                    connection.execution_options(isolation_level="AUTOCOMMIT")
                    connection.exec_driver_sql(f'DROP TABLESPACE "{tablespace}"')
            finally:
                engine.dispose()
    finally:
        disk.unmount()
        disk.mount_point.rmdir()


@pytest.fixture
def full_storage(server: Server, later_cleanups: LaterCleanups) -> Iterator[FullStorage]:
    engine = server.state.engine
    if engine.dialect.name == "sqlite":
        storage = FullStorage(engine)
        event.listen(engine, "connect", storage.limit_sqlite)
        yield storage
        return
    if shutil.which("pg_ctlcluster") is None:
        pytest.fail("the tablespace lives where PostgreSQL runs: it must be this machine's")
    # Under /tmp itself, not the test's 0700 folder: PostgreSQL's own user must reach it.
    mount_point = Path("/tmp") / f"xunjian-pg-small-disk-{secrets.token_hex(4)}"
    disk = SmallDisk(mount_point, PG_DISK_BYTES, owner="postgres")
    tablespace = f"xj_small_{secrets.token_hex(4)}"
    created: str | None = None
    disk.mount()
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.exec_driver_sql(
                f"CREATE TABLESPACE \"{tablespace}\" LOCATION '{mount_point}'"
            )
            created = tablespace
            _move_tables(connection, tablespace)
        yield FullStorage(engine, disk, tablespace)
    finally:
        disk.free()
        engine.dispose()
        try:
            if created is not None:
                # Back to the real disk now, before the test's schema is dropped; the
                # tablespace itself goes later (LaterCleanups).
                with engine.connect() as cleanup:
                    cleanup.execution_options(isolation_level="AUTOCOMMIT")
                    _move_tables(cleanup, "pg_default")
        finally:
            engine.dispose()
            later_cleanups.start(
                f"dropping tablespace {tablespace}",
                lambda: _drop_tablespace_and_unmount(engine.url, created, disk),
            )


def test_a_full_database_refuses_with_503_and_takes_reports_again_when_freed(
    server: Server, agent: SignedAgent, full_storage: FullStorage
) -> None:
    first = agent.report(results=[])
    assert agent.send_report(first).status_code == 200
    confirmed = [first["seq"]]
    full_storage.fill()
    refusal = None
    for _ in range(MAX_REPORTS):
        document = agent.report()
        answer = agent.send_report(document)
        if answer.status_code == 200:
            confirmed.append(document["seq"])
            continue
        refusal = (document, answer)
        break
    assert refusal is not None, f"{MAX_REPORTS} reports were stored into a full database"
    document, answer = refusal
    assert answer.status_code == 503, answer.get_data(as_text=True)
    assert answer.is_json and "storage is full" in answer.get_json()["error"]
    assert int(answer.headers["Retry-After"]) > 0

    full_storage.free()
    again = agent.send_report(document)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json() == {"stored": True}
    with server.state.engine.connect() as connection:
        stored = [
            int(seq)
            for (seq,) in connection.execute(
                sqlalchemy.text("SELECT seq FROM reports WHERE agent_id = :a ORDER BY seq"),
                {"a": agent.agent_id},
            )
        ]
    assert stored == [*confirmed, document["seq"]]


def test_errors_that_are_not_about_space_are_not_taken_for_a_full_disk(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        with engine.connect() as connection:
            with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
                connection.exec_driver_sql("SELECT * FROM no_such_table")
            assert storage_full(raised.value) is None
            with pytest.raises(OSError) as missing:
                (tmp_path / "absent" / "file").write_text("x")
            assert storage_full(missing.value) is None
    finally:
        engine.dispose()


def test_a_background_failure_on_a_full_disk_is_one_line_with_the_reason(tmp_path: Path) -> None:
    """What the server's log handler makes of a sweep that failed on a full SQLite database."""
    database = sqlite3.connect(tmp_path / "full.sqlite3")
    try:
        database.execute("CREATE TABLE t (x BLOB)")
        pages = database.execute("PRAGMA page_count").fetchone()[0]
        database.execute(f"PRAGMA max_page_count = {int(pages)}")
        with pytest.raises(sqlite3.OperationalError) as raised:
            database.execute("INSERT INTO t VALUES (zeroblob(100000))")
    finally:
        database.close()
    record = logging.LogRecord(
        "xunjian.test",
        logging.ERROR,
        __file__,
        1,
        "alerts: %s failed",
        ("the sweep",),
        (type(raised.value), raised.value, raised.tb),
    )
    assert StorageFullLines().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == (
        "alerts: the sweep failed: the storage is full (SQLite: database or disk is full)"
    )
    other = logging.LogRecord(
        "xunjian.test", logging.ERROR, __file__, 1, "boom", (), (ValueError, ValueError(), None)
    )
    assert StorageFullLines().filter(other) and other.exc_info is not None
