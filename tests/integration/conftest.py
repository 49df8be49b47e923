"""Real server processes on loopback, on SQLite and (with XUNJIAN_TEST_DATABASE_URL) PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy

from tests.harness import ServerUnderTest


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, data_folder_templates: object
) -> Iterator[ServerUnderTest]:
    under_test = ServerUnderTest(tmp_path / "server", database_url=database_url)
    under_test.init_copy(data_folder_templates)
    # One-second heartbeats so "online" and commands move quickly; scans come from the agents'
    # own local tuning in these tests.
    under_test.set_config(heartbeat_interval_seconds=1, scan_interval_seconds=5)
    under_test.start()
    try:
        yield under_test
    finally:
        under_test.stop()


@pytest.fixture
def database(database_url: str) -> Iterator[sqlalchemy.Engine]:
    """Read-only look at the store, to prove what was (not) written."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def stored_reports(engine: sqlalchemy.Engine, agent_id: str) -> list[tuple[int, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text(
                "SELECT epoch, seq FROM reports WHERE agent_id = :agent ORDER BY epoch, seq"
            ),
            {"agent": agent_id},
        )
        return [(int(epoch), int(seq)) for epoch, seq in rows]


def count_rows(engine: sqlalchemy.Engine, table: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sqlalchemy.text(f"SELECT COUNT(*) FROM {table}")).scalar())
