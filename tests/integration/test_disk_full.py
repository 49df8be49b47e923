"""The server's disk fills up (issue 14): a real ``xunjian server run`` whose data folder and
SQLite database sit on a small tmpfs of their own (tests/small_disk.py), a real agent reporting
to it, and a signing client whose every answer is kept.

While the disk is full the server refuses reports with 503 and a JSON error (and logs why), stays
up, and loses nothing it confirmed before; the agent keeps its reports in its spool. When space
returns the server takes reports again without a restart and the agent delivers what waited,
each once.

SQLite only: the database must be on the filesystem that fills. On PostgreSQL the database's
disk is PostgreSQL's own; its ``disk_full`` (SQLSTATE 53100) is answered the same way
(tests/server/test_storage_full.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from tests.harness import (
    AgentUnderTest,
    Response,
    ServerUnderTest,
    SimulatedAgent,
    enroll_simulated,
    option_value,
    sample_results,
    wait_for,
)
from tests.integration.conftest import stored_reports
from tests.integration.test_spine import _small_host_tree
from tests.small_disk import SmallDisk
from xunjian.core.contract import PATH_REPORTS

# Room for the copied data folder and database (about 0.5 MB) and some reports; small enough
# that filling it is quick.
DISK_BYTES = 16 * 1024 * 1024
# Reports the client sends into the full disk before the test gives up on seeing a refusal:
# SQLite first fills the free pages its files already hold (the write-ahead log is reused).
MAX_REPORTS_INTO_A_FULL_DISK = 400


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    disk = SmallDisk(tmp_path / "disk", DISK_BYTES)
    disk.mount()
    try:
        yield disk
    finally:
        disk.unmount()


@pytest.fixture
def server(
    small_disk: SmallDisk, tmp_path: Path, data_folder_templates: object
) -> Iterator[ServerUnderTest]:
    # Stopped before the disk is unmounted (fixtures end in reverse order).
    under_test = ServerUnderTest(
        small_disk.mount_point / "server",
        database_url=f"sqlite:///{small_disk.mount_point / 'xunjian.sqlite3'}",
        log_dir=tmp_path,
    )
    under_test.init_copy(data_folder_templates)
    under_test.set_config(heartbeat_interval_seconds=1, scan_interval_seconds=5)
    under_test.start()
    try:
        yield under_test
    finally:
        under_test.stop()


@pytest.fixture
def database(server: ServerUnderTest) -> Iterator[sqlalchemy.Engine]:
    assert server.database_url is not None
    engine = sqlalchemy.create_engine(server.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _send(server: ServerUnderTest, agent: SimulatedAgent, seq: int) -> Response:
    body = json.dumps(
        {
            "agent_id": agent.agent_id,
            "epoch": 1,
            "seq": seq,
            "kind": "scan",
            "created_at": "2026-11-23T10:00:00Z",
            "results": sample_results(40),
            "inventory": {"hostname": "lab-disk", "filler": "x" * 2000},
        }
    ).encode()
    return server.request("POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body))


def _answer(response: Response) -> Any:
    assert response.headers.get("Content-Type", "").startswith("application/json"), response
    return response.json()


def test_a_full_disk_refuses_reports_keeps_what_it_confirmed_and_recovers(
    server: ServerUnderTest, database: sqlalchemy.Engine, small_disk: SmallDisk, tmp_path: Path
) -> None:
    words = server.create_token(uses=2)
    client = enroll_simulated(server, option_value(words, "--token"), "lab-client")
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(words)
    agent.tune(scan_interval_seconds=1, scan_root=str(_small_host_tree(tmp_path / "tree")))
    agent.start()
    try:
        wait_for(
            "the agent's first stored report", lambda: stored_reports(database, agent.agent_id)
        )
        confirmed: list[int] = []
        assert _send(server, client, 1).status == 200
        confirmed.append(1)

        small_disk.fill()
        refusal: Response | None = None
        seq = 1
        while refusal is None and seq < MAX_REPORTS_INTO_A_FULL_DISK:
            seq += 1
            answer = _send(server, client, seq)
            if answer.status == 200:
                assert _answer(answer) == {"stored": True}
                confirmed.append(seq)
            else:
                refusal = answer
        assert refusal is not None, f"{seq} reports were stored on a full disk"
        assert refusal.status == 503, (refusal.status, refusal.body, server.log()[-3000:])
        error = _answer(refusal)["error"]
        assert "storage is full" in error, error
        assert int(refusal.headers.get("Retry-After", "0")) > 0, refusal.headers
        refused = seq

        # Still up, still refusing the same way; the refusal is in the log with its reason.
        assert _send(server, client, refused).status == 503
        wait_for(
            "the refusal in the server's log",
            lambda: "503" in server.log() and "storage is full" in server.log(),
        )
        # The agent keeps its reports while the server cannot take them.
        depth_before = agent.status().get("spool_depth") or 0
        wait_for(
            "the agent's spool to grow",
            lambda: (agent.status().get("spool_depth") or 0) >= depth_before + 2,
            timeout=90,
        )
        # What was confirmed is there while the disk is still full.
        held = {seq for _epoch, seq in stored_reports(database, client.agent_id)}
        assert set(confirmed) <= held, sorted(set(confirmed) - held)

        small_disk.free()
        # Space is back: the same server process takes reports again, the refused one too.
        answer = wait_for(
            "the refused report to be stored",
            lambda: (a := _send(server, client, refused)).status == 200 and a,
        )
        assert _answer(answer) == {"stored": True}
        wait_for(
            "the agent's spool to drain",
            lambda: agent.status().get("spool_depth") == 0,
            timeout=120,
        )
    finally:
        agent.stop()
    assert server.process is not None and server.process.poll() is None, server.log()[-3000:]
    server.stop()

    with database.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    held = [seq for _epoch, seq in stored_reports(database, client.agent_id)]
    assert held == [*confirmed, refused], (held, confirmed, refused)
    stored = stored_reports(database, agent.agent_id)
    assert len(stored) == len(set(stored)), "a report was stored twice"
    seqs = [seq for _epoch, seq in stored]
    # Every number from 1 to the last is there: the spool gave up none while the disk was full.
    assert seqs == list(range(1, max(seqs) + 1)), (seqs, agent.log()[-3000:])
