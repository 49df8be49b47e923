"""The file watcher end to end: a real server process, a real agent process watching real
folders set by the API. A web shell dropped into the upload folder raises a webshell alert
with its path and hash; ten thousand files copied at once arrive as bounded reports with
nothing lost; a file added while the agent was stopped is reported when it starts again."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.harness import AgentUnderTest, ServerUnderTest, wait_for
from tests.integration.test_spine import _small_host_tree

SHELL = b"<?php @eval($_POST['pass']);?>\n"
MAX_DETAILED = 200  # agent/watch/watcher.py WatchLimits.max_events


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, data_folder_templates: object
) -> Iterator[ServerUnderTest]:
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    server.set_config(heartbeat_interval_seconds=1, scan_interval_seconds=60)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _events(server: ServerUnderTest, token: str, host: str) -> list[dict[str, Any]]:
    answer = server.api(token, "GET", f"/api/v1/file-events?host={host}&limit=1000")
    assert answer.status == 200, answer.body
    return list(answer.json()["events"])


def _per_report(database_url: str, agent_id: str, folder: str) -> list[tuple[int, int, int]]:
    """(report id, rows, files created) of every report with events under ``folder``.

    Created files are counted, detailed or summarised: a file copied while a watch cycle runs
    may also show up as modified in the next cycle (written, then its times set by copystat),
    which is a true event, not a second file (seen on a loaded machine)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT report_id, COUNT(*), SUM(CASE WHEN action = 'summary' "
                    "AND summarised_action = 'created' THEN count WHEN action = 'created' "
                    "THEN 1 ELSE 0 END) FROM file_events WHERE agent_id = :agent "
                    "AND (path LIKE :under OR action = 'summary') GROUP BY report_id"
                ),
                {"agent": agent_id, "under": folder + "/%"},
            ).all()
    finally:
        engine.dispose()
    return [(int(a), int(b), int(c)) for a, b, c in rows]


def test_watcher_end_to_end(server: ServerUnderTest, database_url: str, tmp_path: Path) -> None:
    www = tmp_path / "www"
    uploads = www / "uploads"
    uploads.mkdir(parents=True)
    (www / "index.html").write_text("<h1>学校</h1>")
    token = server.api_token()
    settings = {
        "folders": [
            {"path": str(www), "kind": "web_root"},
            {"path": str(uploads), "kind": "upload"},
        ],
        "sensitive_words": ["绝密"],
    }
    assert server.api(token, "PUT", "/api/v1/groups/default/watch", settings).status == 200

    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(server.create_token())
    agent.tune(
        scan_root=str(_small_host_tree(tmp_path / "tree")),
        scan_interval_seconds=60,
        watch_interval_seconds=1,
    )
    agent.start()
    try:
        host = agent.agent_id
        wait_for(
            "the first rescan's events",
            lambda: any(e["path"].endswith("index.html") for e in _events(server, token, host)),
        )
        shell = uploads / "avatar.php"
        shell.write_bytes(SHELL)

        def webshell_alert() -> list[dict[str, Any]]:
            alerts = server.api(token, "GET", "/api/v1/alerts?status=open").json()["alerts"]
            return [a for a in alerts if a["kind"] == "webshell"]

        [alert] = wait_for("the webshell alert", webshell_alert)
        assert alert["severity"] == "critical" and alert["host"]["id"] == host
        assert str(shell) in alert["message"]
        assert hashlib.sha256(SHELL).hexdigest() in alert["message"]

        source = tmp_path / "source"
        source.mkdir()
        for index in range(10_000):
            (source / f"page-{index:05}.html").write_text(f"<p>{index}</p>")
        copied = uploads / "copied"
        shutil.copytree(source, copied)

        def accounted() -> int:
            return sum(files for _, _, files in _per_report(database_url, host, str(copied)))

        wait_for("all 10,000 copied files", lambda: accounted() >= 10_000, timeout=180)
        reports = _per_report(database_url, host, str(copied))
        assert accounted() == 10_000, reports
        # Bounded: every report carries at most 200 detailed events (+ a summary or two), and
        # the copy cost a handful of reports, not ten thousand.
        assert max(rows for _, rows, _ in reports) <= MAX_DETAILED + 4, reports
        assert len(reports) <= 30, reports
    finally:
        agent.stop()

    # While the agent is stopped, a second shell arrives; the start-up rescan reports it.
    late = uploads / "late.php"
    late.write_bytes(SHELL.replace(b"pass", b"late"))
    agent.start()
    try:
        wait_for(
            "the shell added while stopped",
            lambda: any(str(late) in a["message"] for a in webshell_alert()),
        )
    finally:
        agent.stop()
    assert server.log().count("Traceback") == 0, server.log()[-3000:]
    assert "Traceback" not in agent.log(), agent.log()[-3000:]
