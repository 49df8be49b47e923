"""The weekly report through a real ``xunjian server run`` (two worker processes) on SQLite and
PostgreSQL: an auditor's API token downloads it, ``xunjian report verify`` checks the signed
JSON offline, an operator is refused; the scheduled jobs in both processes keep last week's
report once and purge the operation log once."""

from __future__ import annotations

import datetime
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy

from server.reports.week import last_complete_week
from tests.harness import (
    ServerUnderTest,
    enroll_simulated,
    option_value,
    run_cli,
    sample_results,
    wait_for,
)
from xunjian.core.contract import PATH_REPORTS

ZONE = ZoneInfo("Asia/Shanghai")  # config.json's default console_timezone


@pytest.fixture
def server(
    database_url: str, tmp_path: Path, data_folder_templates: object
) -> Iterator[ServerUnderTest]:
    under_test = ServerUnderTest(tmp_path / "server", database_url=database_url)
    under_test.init_copy(data_folder_templates)
    # Two processes, as `server init` configures: the jobs must still run once.
    under_test.set_config(workers=2)
    try:
        yield under_test
    finally:
        under_test.stop()


def _rows(engine: sqlalchemy.Engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sqlalchemy.text(sql))]


def test_auditor_downloads_verifies_and_jobs_run_once(
    server: ServerUnderTest, database_url: str, tmp_path: Path
) -> None:
    week = last_complete_week(datetime.datetime.now(datetime.UTC).replace(tzinfo=None), ZONE)
    start, _end = week.bounds(ZONE)
    server.start()
    token = option_value(server.create_token(), "--token")
    agent = enroll_simulated(server, token, "lab-pc-01")
    report = {
        "agent_id": agent.agent_id,
        "epoch": 1,
        "seq": 1,
        "kind": "scan",
        # Made last week and spooled: it counts for last week.
        "created_at": (start + datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "policy_version": 1,
        "results": sample_results(40),
        "inventory": None,
        "gaps": [],
    }
    body = json.dumps(report).encode()
    answer = server.request("POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body))
    assert answer.status == 200, answer.body
    server.stop()

    engine = sqlalchemy.create_engine(database_url)
    try:
        # The server ran for more than a day already (as far as the purge job knows).
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("DELETE FROM job_leases WHERE name = 'oplog_purge'"))
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO job_leases (name, created_at) VALUES ('oplog_purge', :at)"
                ),
                {"at": datetime.datetime(2020, 1, 1)},
            )
        server.start()

        run_cli("server", "user", "add", "audrey", "--role", "auditor", "--data", str(server.data))
        run_cli("server", "user", "add", "otto", "--role", "operator", "--data", str(server.data))
        auditor, operator = server.api_token("audrey"), server.api_token("otto")

        path = f"/api/v1/reports/weekly?week={week}&format=json"
        answer = server.api(auditor, "GET", path)
        assert answer.status == 200, answer.body
        assert answer.headers["Content-Type"] == "application/json"
        assert f"xunjian-weekly-{week}.json" in answer.headers["Content-Disposition"]
        signed = tmp_path / "week.json"
        signed.write_bytes(answer.body)
        verified = run_cli(
            "report",
            "verify",
            str(signed),
            "--public-key",
            str(server.data / "report-signing.pub"),
        )
        assert f"week {week}, 1 hosts" in verified.stdout
        tampered = tmp_path / "tampered.json"
        tampered.write_bytes(answer.body.replace(b"simulated result 3", b"simulated result 4"))
        refused = run_cli("report", "verify", str(tampered), check=False)
        assert refused.returncode == 1 and "changed" in refused.stdout

        answer = server.api(
            auditor, "GET", f"/api/v1/reports/weekly?week={week}&format=csv&lang=en"
        )
        assert answer.status == 200 and answer.body.startswith(b"PK")  # a zip of tables
        hosts = zipfile.ZipFile(io.BytesIO(answer.body)).read("03-hosts.csv")
        assert hosts.startswith(b"\xef\xbb\xbf") and "lab-pc-01" in hosts.decode("utf-8-sig")
        assert server.api(operator, "GET", path).status == 403
        assert server.api(auditor, "GET", "/api/v1/reports/weekly?week=2026-47").status == 400

        def scheduled() -> list[tuple]:
            return _rows(
                engine,
                f"SELECT week, hosts FROM weekly_reports WHERE scheduled_week = '{week}'",
            )

        wait_for("the scheduled weekly report", scheduled, timeout=90)
        purges = wait_for(
            "the daily operation log purge",
            lambda: _rows(engine, "SELECT actor FROM oplog_entries WHERE action = 'oplog.purge'"),
            timeout=90,
        )
        # Both processes have ticked by now (first tick 1..5 s after start); still once each.
        wait_for(
            "both job threads",
            lambda: "jobs:" in server.log() or None,
            timeout=30,
        )
        time.sleep(6)
        assert scheduled() == [(str(week), 1)]
        assert (
            _rows(engine, "SELECT actor FROM oplog_entries WHERE action = 'oplog.purge'")
            == [("system:scheduler",)]
            == purges
        )
        exports = _rows(
            engine,
            "SELECT actor, outcome FROM oplog_entries WHERE action = 'report.export' ORDER BY seq",
        )
        assert exports == [
            ("audrey", "ok"),
            ("audrey", "ok"),
            ("otto", "refused"),
            ("audrey", "refused"),
        ]
        generated = _rows(
            engine, "SELECT actor FROM oplog_entries WHERE action = 'report.generate'"
        )
        assert generated == [("system:scheduler",)]
    finally:
        engine.dispose()
