"""Several server instances on one PostgreSQL start at once after an upgrade (issue 15,
docs/operations.md "Several servers on one PostgreSQL"): each runs the migrations before it
serves (``xunjian server run``). Two processes migrating one empty schema at the same moment
must both succeed, the schema migrated once, instead of one failing on a table the other just
made. PostgreSQL only: SQLite's database is one machine's file, migrated by the one parent
process before its workers start.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy

from tests.conftest import POSTGRESQL_ONLY

pytestmark = POSTGRESQL_ONLY

# Connects, says so, waits for the go file, then migrates: both processes start migrating
# within milliseconds of each other, after their imports and connections.
MIGRATE = """
import pathlib, sys, time
from server.store.engine import make_engine
from server.store.migrate import upgrade_database
engine = make_engine(sys.argv[1])
with engine.connect():
    pass
pathlib.Path(sys.argv[2]).touch()
while not pathlib.Path(sys.argv[3]).exists():
    time.sleep(0.005)
upgrade_database(engine)
engine.dispose()
"""


def test_two_processes_migrating_one_schema_at_once_both_succeed(
    database_url: str, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    processes = []
    for number in range(2):
        ready = tmp_path / f"ready-{number}"
        command = [sys.executable, "-c", MIGRATE, database_url, str(ready), str(go)]
        processes.append(
            (ready, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        )
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in processes):
        assert time.monotonic() < deadline, "the migrating processes did not start"
        assert all(process.poll() is None for _, process in processes), [
            process.communicate()[0].decode() for _, process in processes
        ]
        time.sleep(0.01)
    go.touch()
    outputs = [process.communicate(timeout=120)[0].decode() for _, process in processes]
    assert [process.returncode for _, process in processes] == [0, 0], outputs
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    finally:
        engine.dispose()
    assert len(versions) == 1, versions
