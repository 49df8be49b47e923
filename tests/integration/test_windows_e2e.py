"""A Windows PC end to end: a real ``xunjian agent run`` scans a mounted Windows volume
(``scan_root``; the planted PCs of tests/windows/volumes.py) and reports to a real
``xunjian server run`` on loopback. The host becomes a Windows host with its OS and build, the
clean twin's accounts become its baseline (by SID), and when the disk turns into the faulty PC
the REST API, the alerts and the weekly report show exactly the planted failures, the account
added since the baseline (RID 1003), and the Linux-only checks as not_applicable, counted
neither way. SQLite, and PostgreSQL with XUNJIAN_TEST_DATABASE_URL.

The volume is a symbolic link swapped atomically, as a disk image replaced under a mount point
would be; the agent's scan_root never points at a missing folder.
"""

from __future__ import annotations

import datetime
import io
import json
import os
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from checks.api import collect_baseline
from server.reports.collect import COLUMNS
from server.reports.week import IsoWeek
from tests.harness import AgentUnderTest, ServerUnderTest, wait_for
from tests.windows.samforge import machine_sid_text
from tests.windows.test_scan import PLANTED
from tests.windows.volumes import build_windows_volume

ZONE = ZoneInfo("Asia/Shanghai")  # config.json's default console_timezone
ADDED = "accounts.windows_added_since_baseline"


def _host_results(server: ServerUnderTest, token: str, agent_id: str) -> dict[str, Any]:
    answer = server.api(token, "GET", f"/api/v1/hosts/{agent_id}/results")
    assert answer.status == 200, answer.body
    return dict(answer.json())


def _statuses(body: dict[str, Any]) -> dict[tuple[str, str], str]:
    return {(r["check_id"], r["resource"]): r["status"] for r in body["results"]}


def _failing(body: dict[str, Any]) -> set[tuple[str, str]]:
    return {key for key, status in _statuses(body).items() if status == "fail"}


def _open_check_alerts(server: ServerUnderTest, token: str, agent_id: str) -> set[tuple[str, str]]:
    answer = server.api(token, "GET", "/api/v1/alerts?status=open")
    assert answer.status == 200, answer.body
    return {
        (alert["check_id"], alert["resource"])
        for alert in answer.json()["alerts"]
        if alert["kind"] == "check_failed" and (alert["host"] or {}).get("id") == agent_id
    }


def _point(link: Path, volume: Path) -> None:
    """Repoint ``link`` at ``volume`` in one rename: a scan sees the old disk or the new."""
    new = link.with_name(link.name + ".new")
    new.symlink_to(volume, target_is_directory=True)
    os.replace(new, link)


def test_a_scanned_windows_pc_is_a_windows_host_in_results_alerts_and_the_weekly_report(
    server: ServerUnderTest, tmp_path: Path
) -> None:
    clean = build_windows_volume(tmp_path / "clean", faulty=False).root
    faulty = build_windows_volume(tmp_path / "faulty", faulty=True).root
    link = tmp_path / "volume"
    _point(link, clean)
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(server.create_token())
    agent.tune(scan_interval_seconds=1, scan_root=str(link))
    token = server.api_token()
    agent.start()
    try:
        # The clean PC: a Windows 11 host, its accounts taken as the baseline, nothing failing.
        def baselined() -> dict[str, Any] | None:
            body = _host_results(server, token, agent.agent_id)
            return body if _statuses(body).get((ADDED, "host")) == "pass" else None

        body = wait_for("the clean PC judged against its own baseline", baselined)
        host = body["host"]
        assert (host["platform"], host["os"], host["os_version"], host["os_build"]) == (
            "windows",
            "Windows 11 Pro",
            "25H2",
            "26200.7171",
        )
        assert _failing(body) == set()
        assert body["inventory"]["data"]["hostname"] == "JSJ-02"

        # The disk becomes the faulty PC (same machine SID, one account more).
        _point(link, faulty)
        machine = machine_sid_text()
        added_packages = set(collect_baseline(faulty)["packages"]) - set(
            collect_baseline(clean)["packages"]
        )
        expected = (
            PLANTED
            | {(ADDED, f"sid:{machine}-1003")}
            | {("software.baseline", f"package:{name}") for name in added_packages}
        )
        assert added_packages >= {"AnyDesk", "Steam", "迅雷"}
        body = wait_for(
            "the faulty PC's failures",
            lambda: (
                (found := _host_results(server, token, agent.agent_id))
                and _failing(found) == expected
                and found["host"]["os_build"] == "19045.2130"
                and found
            ),
        )
        statuses = _statuses(body)
        assert not [key for key, status in statuses.items() if status in ("error", "no_privilege")]
        # Linux-only checks are not applicable here; never failures, never missing.
        assert statuses[("accounts.uid0_extra", "host")] == "not_applicable"
        linux_only = {
            r["check_id"] for r in body["results"] if "this host runs windows" in r["message"]
        }
        assert {"accounts.uid0_extra", "ssh.root_login", "accounts.added_since_baseline"} <= (
            linux_only
        )
        assert all(statuses[(check, "host")] == "not_applicable" for check in linux_only)
        hosts = server.api(token, "GET", "/api/v1/hosts").json()["hosts"]
        assert [(h["id"], h["platform"]) for h in hosts] == [(agent.agent_id, "windows")]

        # One alert per failure; none for what does not apply.
        wait_for(
            "an open alert for each failure, and no other",
            lambda: _open_check_alerts(server, token, agent.agent_id) == expected,
        )
    finally:
        agent.stop()

    # The weekly report of this (unfinished) week: a Windows host, its failures, and its
    # not_applicable rows left out of its compliance as everywhere else.
    week = IsoWeek.containing(datetime.datetime.now(ZONE).date())
    answer = server.api(token, "GET", f"/api/v1/reports/weekly?week={week}&format=json")
    assert answer.status == 200, answer.body
    report = json.loads(answer.body)["report"]
    [entry] = report["hosts"]
    assert (entry["platform"], entry["os"], entry["os_version"], entry["os_build"]) == (
        "windows",
        "Windows 10 Pro",
        "22H2",
        "19045.2130",
    )
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in report["rows"]]
    last = {(row["check_id"], row["resource"]): row["status"] for row in rows}
    assert {key for key, status in last.items() if status == "fail"} == expected
    assert last[("accounts.uid0_extra", "host")] == "not_applicable"
    assert entry["not_applicable"] >= len(linux_only)
    # Compliance is the share of judged (host, check) pairs that pass (docs/console.md): a check
    # failing for any resource fails; not_applicable checks count neither way.
    failing_checks = {check for (check, _resource), status in last.items() if status == "fail"}
    passing_checks = {
        check for (check, _resource), status in last.items() if status == "pass"
    } - failing_checks
    assert (entry["checks_failed"], entry["checks_passed"]) == (
        len(failing_checks),
        len(passing_checks),
    )
    assert entry["compliance_percent"] == round(
        100.0 * len(passing_checks) / (len(passing_checks) + len(failing_checks)), 1
    )
    judged = entry["passed"] + entry["failed"] + entry["errors"] + entry["no_privilege"]
    assert entry["results"] == judged + entry["not_applicable"]

    # The spreadsheet's Hosts sheet, in English (the CSV holds the summary and the rows only).
    answer = server.api(token, "GET", f"/api/v1/reports/weekly?week={week}&format=xlsx&lang=en")
    assert answer.status == 200
    sheet = load_workbook(io.BytesIO(answer.body), read_only=True)["Hosts"]
    header, *lines = [list(line) for line in sheet.iter_rows(values_only=True)]
    [line] = [dict(zip(header, values, strict=True)) for values in lines]
    # The readable workbook (server/reports/readable.py): columns named in the reader's language.
    assert (line["Platform"], line["Operating system"], line["Checks failed"]) == (
        "windows",
        "Windows 10 Pro 22H2 19045.2130",
        entry["checks_failed"],
    )
    assert server.log().count("Traceback") == 0, server.log()[-3000:]
