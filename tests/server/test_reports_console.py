"""The console's Weekly reports page on SQLite and PostgreSQL: auditors and admins list kept
reports, generate one for a chosen week and download each format (each download and generation
in the operation log); operators are refused; bad weeks are refused and logged."""

from __future__ import annotations

import io
import json
import re
import zipfile

from flask.testing import FlaskClient
from sqlalchemy import select, update

from server.oplog.models import OplogEntry
from server.reports.models import WeeklyReport
from server.reports.verify import verify_document
from server.reports.week import last_complete_week, zone_of
from server.store.accounts import create_user
from server.store.models import User, utcnow
from tests.server.conftest import Server, SignedAgent

PASSWORD = "Report-pass-2026"


def signed_in(server: Server, name: str, role: str) -> FlaskClient:
    with server.state.sessions() as session:
        create_user(session, name, role, PASSWORD)
        session.execute(update(User).where(User.name == name).values(must_change_password=False))
        session.commit()
    client = server.client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    answer = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302
    return client


def csrf(client: FlaskClient, path: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def entries(server: Server, action: str) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(
            session.scalars(
                select(OplogEntry).where(OplogEntry.action == action).order_by(OplogEntry.seq)
            )
        )


def test_auditor_generates_lists_and_downloads(server: Server, agent: SignedAgent) -> None:
    assert agent.send_report(agent.report()).status_code == 200
    client = signed_in(server, "audrey", "auditor")
    page = client.get("/reports/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Weekly reports" in page and "No report is kept yet." in page
    week = last_complete_week(utcnow(), zone_of(server.state.config))
    assert f'value="{week}"' in page  # the form proposes the last complete week

    answer = client.post(
        "/reports/generate", data={"week": str(week), "csrf_token": csrf(client, "/reports/")}
    )
    assert answer.status_code == 303
    with server.state.sessions() as session:
        row = session.scalars(select(WeeklyReport)).one()
    assert (row.week, row.trigger, row.generated_by) == (str(week), "console", "audrey")
    page = client.get("/reports/").get_data(as_text=True)
    for form in ("csv", "xlsx", "json"):
        assert f"/reports/{row.id}/{form}" in page

    answer = client.get(f"/reports/{row.id}/json")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="xunjian-weekly-{week}.json"'
    )
    verify_document(json.loads(answer.get_data()))
    # CSV in the page's language: a zip of tables with Chinese headers.
    answer = client.get(f"/reports/{row.id}/csv", headers={"Accept-Language": "zh-CN"})
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="xunjian-weekly-{week}-zh-csv.zip"'
    )
    results = zipfile.ZipFile(io.BytesIO(answer.get_data())).read("04-results.csv")
    assert results.decode("utf-8-sig").startswith("结果,严重性,分组,主机名")
    assert client.get(f"/reports/{row.id}/pdf").status_code == 404
    assert client.get("/reports/999999/csv").status_code == 404

    exports = entries(server, "report.export")
    assert [json.loads(entry.details)["format"] for entry in exports] == ["json", "csv"]
    assert {(entry.actor, json.loads(entry.details)["via"]) for entry in exports} == {
        ("audrey", "console")
    }
    generated = entries(server, "report.generate")
    assert [(entry.actor, entry.outcome) for entry in generated] == [("audrey", "ok")]


def test_the_public_key_downloads_and_verifies_a_report(
    server: Server, agent: SignedAgent, tmp_path
) -> None:
    """Issue 13 item 15: the page offers the key with the verify line, and the file it gives
    is the one ``xunjian report verify --public-key`` checks a downloaded report against."""
    import subprocess
    import sys

    assert agent.send_report(agent.report()).status_code == 200
    client = signed_in(server, "audrey", "auditor")
    page = client.get("/reports/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'href="/reports/public-key"' in page and "下载公钥 report-signing.pub" in page
    assert "xunjian report verify FILE.json --public-key report-signing.pub" in page
    week = last_complete_week(utcnow(), zone_of(server.state.config))
    client.post(
        "/reports/generate", data={"week": str(week), "csrf_token": csrf(client, "/reports/")}
    )
    with server.state.sessions() as session:
        row = session.scalars(select(WeeklyReport)).one()
    answer = client.get("/reports/public-key")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="report-signing.pub"'
    key = tmp_path / "report-signing.pub"
    key.write_bytes(answer.get_data())
    report = tmp_path / "week.json"
    report.write_bytes(client.get(f"/reports/{row.id}/json").get_data())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "xunjian.cli",
            "report",
            "verify",
            str(report),
            "--public-key",
            str(key),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [given] = entries(server, "report.public_key")
    assert given.actor == "audrey"
    # An operator may not have it (the reports are admin and auditor only).
    assert signed_in(server, "olga", "operator").get("/reports/public-key").status_code == 403


def test_the_auditor_role_is_described_as_it_is(server: Server) -> None:
    """Issue 13 item 16: not "read-only", since an auditor keeps reports (logged)."""
    admin = signed_in(server, "adam", "admin")
    page = admin.get("/settings/accounts", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "read-only" not in page
    assert "keeps a week's report (each one recorded in the operation log)" in page
    chinese = admin.get("/settings/accounts", headers={"Accept-Language": "zh-CN"})
    assert "生成并保存某一周的报告（每次都记入操作日志）" in chinese.get_data(as_text=True)


def test_a_new_install_offers_this_week_so_far_and_last_week_by_name(
    server: Server, agent: SignedAgent
) -> None:
    """Issue 13 item 13: the first scans are in this week, which the page offers by name
    beside the last complete week; this week's report holds them."""
    from server.reports.week import this_week

    assert agent.send_report(agent.report()).status_code == 200
    zone = zone_of(server.state.config)
    now_week, last = this_week(utcnow(), zone), last_complete_week(utcnow(), zone)
    assert now_week.previous() == last
    client = signed_in(server, "audrey", "auditor")
    page = client.get("/reports/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert f'value="{now_week}" data-week="this">This week so far ({now_week}, partial)' in page
    assert f'value="{last}" data-week="last">Last complete week ({last})' in page
    chinese = client.get("/reports/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert f"本周至今（{now_week}，不完整）" in chinese and f"上一个完整周（{last}）" in chinese
    answer = client.post(
        "/reports/generate", data={"week": str(now_week), "csrf_token": csrf(client, "/reports/")}
    )
    assert answer.status_code == 303
    with server.state.sessions() as session:
        row = session.scalars(select(WeeklyReport)).one()
    assert row.week == str(now_week) and row.complete is False
    report = json.loads(client.get(f"/reports/{row.id}/json").get_data())
    assert report["report"]["summary"]["hosts_reporting"] == 1  # the scan is in it


def test_chinese_page_and_bad_weeks(server: Server) -> None:
    client = signed_in(server, "ada", "admin")
    page = client.get("/reports/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "周报" in page
    for bad in ("2026-47", "2025-W53", "2999-W01", ""):
        answer = client.post(
            "/reports/generate", data={"week": bad, "csrf_token": csrf(client, "/reports/")}
        )
        assert answer.status_code == 400
    refused = entries(server, "report.generate")
    assert [entry.outcome for entry in refused] == ["refused"] * 4
    with server.state.sessions() as session:
        assert session.scalars(select(WeeklyReport)).all() == []
    # Without the CSRF token nothing is generated.
    assert client.post("/reports/generate", data={"week": "2026-W01"}).status_code in (400, 403)


def test_operators_are_refused(server: Server) -> None:
    client = signed_in(server, "otto", "operator")
    assert client.get("/reports/").status_code == 403
    page = client.get("/").get_data(as_text=True)
    assert "/reports/" not in page  # not in the operator's navigation
