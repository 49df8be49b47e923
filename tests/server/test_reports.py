"""The weekly scan report (POLICY.md A4) on SQLite and PostgreSQL: what a week's rows hold,
failures first, silent hosts listed, the three formats, the signature and its offline check,
the command line and the REST API with its roles and operation log entries."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, update

from server.oplog.models import OplogEntry
from server.reports.collect import NO_REPORT, collect_week
from server.reports.generate import build_files
from server.reports.models import WeeklyReport
from server.reports.readable import CheckText, Readable, write_csv_zip, write_xlsx
from server.reports.signing import ensure_report_key
from server.reports.verify import (
    ReportInvalid,
    canonical,
    fingerprint,
    verify_document,
    verify_file,
)
from server.reports.week import IsoWeek, WeekError, last_complete_week
from server.store.accounts import create_api_token, create_user
from server.store.models import Agent, utcnow
from tests.server.conftest import Server, SignedAgent, run_xunjian

ZONE = ZoneInfo("Asia/Shanghai")


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _result(check: str, status: str, message: str, evidence: Any, **extra: Any) -> dict:
    return {
        "check_id": check,
        "status": status,
        "resource": extra.pop("resource", "host"),
        "message": message,
        "evidence": evidence,
        "rules": ["E8"],
        "severity": extra.pop("severity", "high"),
        **extra,
    }


def send(agent: SignedAgent, at: datetime.datetime, results: list[dict]) -> None:
    answer = agent.send_report(agent.report(created_at=_when(at), results=results))
    assert answer.status_code == 200, answer.get_data(as_text=True)


def last_week() -> tuple[IsoWeek, datetime.datetime]:
    week = last_complete_week(utcnow(), ZONE)
    return week, week.bounds(ZONE)[0]


def enrolled_long_ago(server: Server, agent: SignedAgent, when: datetime.datetime) -> None:
    with server.state.engine.begin() as connection:
        connection.execute(update(Agent).where(Agent.id == agent.agent_id).values(enrolled_at=when))


@pytest.fixture
def fleet(server: Server) -> dict[str, SignedAgent]:
    """Three hosts for last week: pc-a (two scans), 教室-b in group lab (one scan), pc-silent
    (enrolled, sent nothing dated last week)."""
    _week, start = last_week()
    pc_a = server.enroll("pc-a")
    room_b = server.enroll("教室-b", group="lab")
    silent = server.enroll("pc-silent")
    enrolled_long_ago(server, silent, start - datetime.timedelta(days=30))
    # Outside the week: must not count.
    send(pc_a, start - datetime.timedelta(days=2), [_result("c.zero", "fail", "old", {"n": 0})])
    send(
        pc_a,
        start + datetime.timedelta(days=1),
        [
            _result("c.zero", "fail", "first failure", {"n": 1}),
            _result("c.one", "pass", "fine", {"n": 1}),
            _result("c.two", "not_applicable", "not here", {}),
        ],
    )
    send(
        pc_a,
        start + datetime.timedelta(days=3),
        [
            _result("c.zero", "fail", "still failing", {"n": 2, "b": "x"}),
            _result("c.one", "fail", "broke", {"why": "policy"}, severity="critical"),
        ],
    )
    send(
        room_b,
        start + datetime.timedelta(days=2),
        [
            _result("c.zero", "pass", "=cmd|' /C calc'!A0", {"用户": "张三"}),
            _result("c.big", "error", "huge", {"blob": "y" * 5000}, severity="low"),
        ],
    )
    # After the week: must not count either.
    send(room_b, start + datetime.timedelta(days=8), [_result("c.zero", "fail", "later", {})])
    return {"pc-a": pc_a, "room-b": room_b, "silent": silent}


def _json_report(server: Server, week: IsoWeek, tmp_path: Path) -> dict:
    built = build_files(server.state.engine, server.data, week, ZONE, ("json",), tmp_path, "tests")
    return json.loads(built.files["json"].read_bytes())["report"]


def _rows(report: dict) -> list[dict]:
    return [dict(zip(report["columns"], row, strict=True)) for row in report["rows"]]


def test_week_names_and_bounds() -> None:
    week = IsoWeek.parse("2026-W47")
    assert str(week) == "2026-W47"
    # Monday 16 November 2026, 00:00 in Shanghai, is 15 November 16:00 UTC.
    assert week.bounds(ZONE) == (
        datetime.datetime(2026, 11, 15, 16, 0),
        datetime.datetime(2026, 11, 22, 16, 0),
    )
    assert week.bounds(ZoneInfo("UTC"))[0] == datetime.datetime(2026, 11, 16)
    assert str(IsoWeek.parse("2026-W53")) == "2026-W53"
    for bad in ("2025-W53", "2026-W00", "2026W47", "26-W47", "2026-w47", "1999-W10", ""):
        with pytest.raises(WeekError):
            IsoWeek.parse(bad)
    # Sunday 22 November 2026 23:00 in Shanghai is still week 47: the last complete is 46.
    sunday_night = datetime.datetime(2026, 11, 22, 15, 0)
    assert str(last_complete_week(sunday_night, ZONE)) == "2026-W46"
    assert str(last_complete_week(sunday_night + datetime.timedelta(hours=1), ZONE)) == "2026-W47"


def test_a_weeks_rows_hold_the_last_result_with_counts_failures_first(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    week, _start = last_week()
    report = _json_report(server, week, tmp_path)
    rows = _rows(report)
    by_key = {(row["hostname"], row["check_id"]): row for row in rows}

    zero = by_key[("pc-a", "c.zero")]
    assert zero["status"] == "fail"
    assert zero["message"] == "still failing"  # the last of the week, not the first
    assert json.loads(zero["evidence"]) == {"b": "x", "n": 2}
    assert zero["evidence"] == '{"b":"x","n":2}'  # compact, sorted keys
    assert (zero["times_seen"], zero["times_failed"]) == (2, 2)
    assert zero["first_seen"] < zero["last_seen"]
    one = by_key[("pc-a", "c.one")]
    assert (one["status"], one["times_seen"], one["times_failed"]) == ("fail", 2, 1)
    assert by_key[("pc-a", "c.two")]["status"] == "not_applicable"
    # Outside the week, before and after, nothing counted.
    assert "old" not in {row["message"] for row in rows}
    assert by_key[("教室-b", "c.zero")]["status"] == "pass"
    big = by_key[("教室-b", "c.big")]
    assert big["evidence_truncated"] is True and len(big["evidence"]) == 2000

    silent = by_key[("pc-silent", "")]
    assert silent["status"] == NO_REPORT and "no report" in silent["message"]

    statuses = [row["status"] for row in rows]
    assert statuses == ["fail", "fail", "error", NO_REPORT, "pass", "not_applicable"]
    # Among failures, the critical one first.
    assert rows[0]["check_id"] == "c.one"

    hosts = {host["hostname"]: host for host in report["hosts"]}
    assert set(hosts) == {"pc-a", "教室-b", "pc-silent"}
    assert hosts["pc-silent"]["reported"] is False
    assert hosts["pc-a"]["reports"] == 2 and hosts["pc-a"]["failed"] == 2
    assert report["hosts"][0]["hostname"] == "pc-a"  # hosts with failures first
    groups = {group["group"]: group for group in report["groups"]}
    assert groups["default"]["hosts"] == 2 and groups["default"]["hosts_reporting"] == 1
    # Compliance as the console counts it (docs/console.md): judged (host, check) pairs;
    # lab's one pass and one error make one passing pair of one judged.
    assert groups["lab"]["compliance_percent"] == 100.0
    assert (groups["lab"]["checks_passed"], groups["lab"]["checks_failed"]) == (1, 0)
    summary = report["summary"]
    assert (summary["hosts"], summary["hosts_silent"], summary["failed"]) == (3, 1, 2)
    # pairs: pc-a's c.zero and c.one fail, 教室-b's c.zero passes (its c.big error counts
    # neither way): one of three; per result row it would have been one of four (25.0).
    assert (summary["checks_passed"], summary["checks_failed"]) == (1, 2)
    assert summary["compliance_percent"] == 33.3
    assert report["week"] == str(week) and report["complete"] is True
    assert report["period"]["timezone"] == "Asia/Shanghai"


def test_the_last_of_two_equal_times_is_the_one_stored_last(
    server: Server, agent: SignedAgent, tmp_path: Path
) -> None:
    week, start = last_week()
    send(
        agent,
        start + datetime.timedelta(days=1),
        [_result("c.dup", "fail", "first", {}), _result("c.dup", "pass", "second", {})],
    )
    rows = _rows(_json_report(server, week, tmp_path))
    assert [
        (row["status"], row["message"], row["times_seen"], row["times_failed"]) for row in rows
    ] == [("pass", "second", 2, 1)]


def test_revoked_and_late_enrolled_hosts(server: Server, tmp_path: Path) -> None:
    from server.store.agents import revoke_agent

    week, start = last_week()
    gone = server.enroll("gone-before")
    with server.state.sessions() as session:
        revoke_agent(session, gone.agent_id)
        session.commit()
    stays = server.enroll("revoked-during")
    with server.state.sessions() as session:
        revoke_agent(session, stays.agent_id)
        session.commit()
    server.enroll("enrolled-after")  # enrolled now, after last week: not in it
    for agent in (gone, stays):
        enrolled_long_ago(server, agent, start - datetime.timedelta(days=30))
    with server.state.engine.begin() as connection:
        connection.execute(
            update(Agent)
            .where(Agent.id == gone.agent_id)
            .values(revoked_at=start - datetime.timedelta(days=1))
        )
        connection.execute(
            update(Agent)
            .where(Agent.id == stays.agent_id)
            .values(revoked_at=start + datetime.timedelta(days=1))
        )
    report = _json_report(server, week, tmp_path)
    hosts = report["hosts"]
    assert [host["hostname"] for host in hosts] == ["revoked-during"]
    assert hosts[0]["revoked_at"] and hosts[0]["reported"] is False


def test_signed_json_is_canonical_and_verifies(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    week, _start = last_week()
    built = build_files(server.state.engine, server.data, week, ZONE, ("json",), tmp_path, "t")
    path = built.files["json"]
    raw = path.read_bytes()
    document = json.loads(raw)
    assert raw == canonical(document)  # the file is exactly the canonical encoding
    verdict = verify_file(path, server.data / "report-signing.pub")
    assert (verdict.week, verdict.hosts, verdict.pinned) == (str(week), 3, True)
    # The file as written is checked where it lies (verify.py's fast path); the same verdict
    # as checking the parsed document.
    assert verdict.rows == len(document["report"]["rows"]) == 6
    assert verdict == verify_document(document, ensure_report_key(server.data).public_key())
    assert verdict.key_id == fingerprint(ensure_report_key(server.data).public_key())

    # One byte of one evidence changed: refused, naming the change.
    changed = raw.replace(b'{\\"b\\":\\"x\\",\\"n\\":2}', b'{\\"b\\":\\"y\\",\\"n\\":2}')
    assert changed != raw
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(changed)
    with pytest.raises(ReportInvalid, match="content was changed"):
        verify_file(tampered)

    # Another key: refused.
    other = tmp_path / "other.pub"
    other.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ReportInvalid, match="different key"):
        verify_file(path, other)
    # Re-signed by someone else with their own key inside: refused against the server's key.
    forged = json.loads(raw)
    forged["report"]["summary"]["failed"] = 0
    forger = Ed25519PrivateKey.generate()
    from server.reports.signing import signature_block

    digest = __import__("hashlib").sha256(canonical(forged["report"])).hexdigest()
    forged["signature"] = signature_block(forger, digest)
    verify_document(forged)  # intact as such, but not by the server's key:
    with pytest.raises(ReportInvalid, match="different key"):
        verify_document(
            forged,
            serialization.load_pem_public_key((server.data / "report-signing.pub").read_bytes()),
        )  # type: ignore[arg-type]

    # Re-indented by an editor: still verifies (the canonical form is recomputed).
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    assert verify_file(pretty).week == str(week)


def test_report_verify_command_runs_without_flask_or_sqlalchemy(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    week, _start = last_week()
    built = build_files(server.state.engine, server.data, week, ZONE, ("json",), tmp_path, "t")
    path = built.files["json"]
    probe = (
        "import sys\n"
        "from xunjian.cli import main\n"
        f"status = main(['report', 'verify', {str(path)!r}, '--public-key', "
        f"{str(server.data / 'report-signing.pub')!r}])\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy')]\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(status)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"week {week}, 3 hosts" in done.stdout
    assert fingerprint(ensure_report_key(server.data).public_key()) in done.stdout
    assert "HEAVY []" in done.stdout

    document = path.read_text(encoding="utf-8").replace('"still failing"', '"still fixed!!"')
    tampered = tmp_path / "edited.json"
    tampered.write_text(document, encoding="utf-8")
    status, out, _err = run_xunjian("report", "verify", str(tampered))
    assert status == 1 and "content was changed" in out


# The registry's words for the fleet's made-up checks: titles, remediations and the rules.
CHECKS = {
    "c.zero": CheckText(
        {"zh": "零号检查", "en": "Check zero"}, {"zh": "修好它", "en": "Fix it"}, ("E4",)
    ),
    "c.one": CheckText(
        {"zh": "一号检查", "en": "Check one"}, {"zh": "改", "en": "Change"}, ("E4", "E8")
    ),
}


def readable(server: Server, tmp_path: Path, language: str) -> Readable:
    week, _start = last_week()
    data = collect_week(server.state.engine, week, ZONE, tmp_path, "tests")
    return Readable(data, language, "Asia/Shanghai", CHECKS)


def test_csv_is_a_zip_of_one_table_a_file_in_the_readers_language(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    """Issue 13 item 14: facts, groups, hosts, results and one file per rule, each a table of
    its own, in Chinese here: words for statuses, check titles, remediation on failures, rule
    ids, times in the zone the headers name; no formulas."""
    out = io.BytesIO()
    write_csv_zip(readable(server, tmp_path, "zh"), out)
    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert archive.namelist() == [
        "01-facts.csv",
        "02-groups.csv",
        "03-hosts.csv",
        "04-results.csv",
        "05-rule-E4.csv",
        "06-rule-E8.csv",
    ]

    def table(name: str) -> list[dict[str, str]]:
        raw = archive.read(name)
        assert raw.startswith(b"\xef\xbb\xbf")
        return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))

    assert [line["分组"] for line in table("02-groups.csv")] == ["default", "lab"]
    results = table("04-results.csv")
    assert len(results) == 6
    first = results[0]
    assert (first["结果"], first["检查项编号"], first["检查项"], first["制度条款"]) == (
        "未通过",
        "c.one",
        "一号检查",
        "E8",  # the rules the agent's result named
    )
    assert first["严重性"] == "严重" and first["整改建议"] == "改"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", first["本周首次发现 (Asia/Shanghai)"])
    passing = next(line for line in results if line["结果"] == "通过")
    assert passing["整改建议"] == ""  # remediation only where something is to be done
    assert passing["说明"].startswith("'=cmd")
    assert any(line["结果"] == "无报告" and line["主机名"] == "pc-silent" for line in results)
    e4 = {
        line["主机名"]: (line["是否符合"], line["未通过的检查项"])
        for line in table("05-rule-E4.csv")
    }
    assert e4 == {
        "pc-a": ("不符合", "c.one, c.zero"),
        "教室-b": ("符合", ""),
        "pc-silent": ("本周无报告", ""),
    }
    e8 = {line["主机名"]: line["是否符合"] for line in table("06-rule-E8.csv")}
    assert e8 == {"pc-a": "不符合", "教室-b": "未判定", "pc-silent": "本周无报告"}
    facts = {line["项目"]: line["内容"] for line in table("01-facts.csv")}
    assert facts["时区"].startswith("Asia/Shanghai (UTC+08:00)")


def test_xlsx_has_a_sheet_per_table_in_english(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "week.xlsx"
    with path.open("wb") as out:
        write_xlsx(readable(server, tmp_path, "en"), out)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["Report", "Groups", "Hosts", "Results", "Rule E4", "Rule E8"]
    results = list(book["Results"].iter_rows(values_only=True))
    assert results[0][:3] == ("Result", "Severity", "Group") and len(results) == 7
    assert results[1][0] == "fail" and results[1][5] == "Check one"
    assert results[1][10] == "Change"
    cells = [value for row in results for value in row if isinstance(value, str)]
    assert any(value.startswith("'=cmd") for value in cells)
    rule = list(book["Rule E4"].iter_rows(values_only=True))
    assert rule[0] == ("Group", "Host name", "Host id", "Complies", "Failing checks")
    assert rule[1][:2] == ("default", "pc-a") and rule[1][3] == "does not comply"
    book.close()


def test_cli_weekly_export_is_logged_and_bad_weeks_are_usage_errors(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    week, _start = last_week()
    out = tmp_path / "week.json"
    status, printed, err = run_xunjian(
        "server",
        "report",
        "weekly",
        "--data",
        str(server.data),
        "--week",
        str(week),
        "--format",
        "json",
        "--out",
        str(out),
    )
    assert status == 0, err
    assert "3 hosts" in printed
    assert out.stat().st_mode & 0o777 == 0o600
    assert verify_file(out).week == str(week)
    with server.state.sessions() as session:
        entry = session.scalars(
            select(OplogEntry).where(OplogEntry.action == "report.export")
        ).one()
    assert entry.target == f"week:{week}" and details(entry)["format"] == "json"
    assert entry.actor.startswith("cli:")

    for bad in ("2026-47", "2025-W53"):
        status, _printed, err = run_xunjian(
            "server",
            "report",
            "weekly",
            "--data",
            str(server.data),
            "--week",
            bad,
            "--format",
            "csv",
            "--out",
            str(out),
        )
        assert status == 2 and "usage:" in err  # argparse's usage error
    # Default week: the last complete one.
    status, printed, err = run_xunjian(
        "server",
        "report",
        "weekly",
        "--data",
        str(server.data),
        "--format",
        "csv",
        "--out",
        str(tmp_path / "default.csv"),
    )
    assert status == 0, err
    assert str(week) in printed


def details(entry: OplogEntry) -> dict:
    return json.loads(entry.details)


def _token(server: Server, name: str, role: str) -> str:
    with server.state.sessions() as session:
        user = create_user(session, name, role, "Unused-pass-1")
        token = create_api_token(session, user, "tests")
        session.commit()
    return token


def test_api_serves_each_format_to_auditors_keeps_the_week_and_logs_it(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    week, _start = last_week()
    auditor = {"Authorization": f"Bearer {_token(server, 'audrey', 'auditor')}"}
    client = server.client()
    path = "/api/v1/reports/weekly"

    answer = client.get(f"{path}?week={week}&format=json", headers=auditor)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="xunjian-weekly-{week}.json"'
    )
    signed = tmp_path / "api.json"
    signed.write_bytes(answer.get_data())
    assert verify_file(signed, server.data / "report-signing.pub").hosts == 3
    report_id = answer.headers["X-Report-Id"]

    answer = client.get(f"{path}?week={week}&format=csv&lang=zh", headers=auditor)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/zip"
    assert answer.headers["Content-Disposition"] == (
        f'attachment; filename="xunjian-weekly-{week}-zh-csv.zip"'
    )
    members = zipfile.ZipFile(io.BytesIO(answer.get_data())).namelist()
    assert "04-results.csv" in members
    assert answer.headers["X-Report-Id"] == report_id  # the kept report, not a new one
    answer = client.get(f"{path}?week={week}&format=xlsx&lang=en", headers=auditor)
    assert answer.status_code == 200 and answer.get_data()[:2] == b"PK"
    assert "-en.xlsx" in answer.headers["Content-Disposition"]

    # The same signed file again: kept, identical.
    again = client.get(f"{path}?week={week}&format=json", headers=auditor)
    assert again.get_data() == signed.read_bytes()
    with server.state.sessions() as session:
        kept = session.scalars(select(WeeklyReport)).all()
        assert [(row.week, row.trigger, row.scheduled_week) for row in kept] == [
            (str(week), "api", None)
        ]
        exports = session.scalars(
            select(OplogEntry).where(OplogEntry.action == "report.export")
        ).all()
    assert [details(entry)["format"] for entry in exports] == ["json", "csv", "xlsx", "json"]
    assert {entry.actor for entry in exports} == {"audrey"}
    assert all(entry.outcome == "ok" for entry in exports)
    stored = list((server.data / "reports").iterdir())
    assert {item.name.split(".", 1)[1] for item in stored} == {
        "csv-zh",
        "csv-en",
        "xlsx-zh",
        "xlsx-en",
        "json.gz",
    }
    assert all(item.stat().st_mode & 0o777 == 0o600 for item in stored)


def test_a_kept_file_missing_from_reports_is_an_error_not_a_cut_off_download(
    server: Server, fleet: dict[str, SignedAgent]
) -> None:
    """An instance whose reports/ is not the one the report was kept in (several instances that
    do not share it, docs/operations.md) used to answer 200 and then cut the body off."""
    week, _start = last_week()
    auditor = {"Authorization": f"Bearer {_token(server, 'audrey', 'auditor')}"}
    path = f"/api/v1/reports/weekly?week={week}&format=json"
    client = server.client()
    assert client.get(path, headers=auditor).status_code == 200  # kept now
    for kept in (server.data / "reports").iterdir():
        kept.unlink()
    answer = client.get(path, headers=auditor)
    assert answer.status_code == 500
    assert "missing from the data folder's reports/" in answer.get_json()["error"]
    with server.state.sessions() as session:
        exports = session.scalars(
            select(OplogEntry).where(OplogEntry.action == "report.export")
        ).all()
    assert len(exports) == 1  # the failed download is not recorded as an export


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("week=2026-47&format=csv", "week: expected `str` matching regex"),
        ("week=&format=csv", "week: expected `str` matching regex"),
        ("week=2025-W53", "no ISO week 53"),
        ("week=2026-W47&format=pdf", "format: invalid enum value 'pdf'"),
        ("week=2999-W01&format=csv", "has not begun"),
    ],
)
def test_api_refuses_bad_weeks_and_formats(server: Server, query: str, reason: str) -> None:
    admin = {"Authorization": f"Bearer {_token(server, 'ada', 'admin')}"}
    answer = server.client().get(f"/api/v1/reports/weekly?{query}", headers=admin)
    assert answer.status_code == 400
    assert reason in answer.get_json()["error"]
    with server.state.sessions() as session:
        entry = session.scalars(
            select(OplogEntry).where(OplogEntry.action == "report.export")
        ).one()
    assert entry.outcome == "refused" and entry.reason.startswith("400")
    assert not (server.data / "reports").exists() or not any((server.data / "reports").iterdir())


def test_api_refuses_operators_and_missing_tokens(server: Server) -> None:
    operator = {"Authorization": f"Bearer {_token(server, 'otto', 'operator')}"}
    client = server.client()
    answer = client.get("/api/v1/reports/weekly?format=csv", headers=operator)
    assert answer.status_code == 403
    assert client.get("/api/v1/reports/weekly").status_code == 401
    with server.state.sessions() as session:
        refused = session.scalars(
            select(OplogEntry).where(OplogEntry.action == "report.export")
        ).one()
    assert (refused.actor, refused.outcome) == ("otto", "refused")


def test_running_week_is_served_but_not_kept(server: Server, agent: SignedAgent) -> None:
    answer = agent.send_report(agent.report())
    assert answer.status_code == 200
    auditor = {"Authorization": f"Bearer {_token(server, 'audrey', 'auditor')}"}
    current = IsoWeek.containing(utcnow().replace(tzinfo=datetime.UTC).astimezone(ZONE).date())
    answer = server.client().get(
        f"/api/v1/reports/weekly?week={current}&format=json", headers=auditor
    )
    assert answer.status_code == 200
    assert answer.headers["X-Report-Complete"] == "false"
    document = json.loads(answer.get_data())
    assert document["report"]["complete"] is False
    assert document["report"]["summary"]["hosts_reporting"] == 1
    with server.state.sessions() as session:
        assert session.scalars(select(WeeklyReport)).all() == []
    leftovers = [item for item in (server.data / "reports").iterdir()]
    assert leftovers == []


def test_a_sentence_sent_by_id_reads_in_the_reports_language(
    server: Server, tmp_path: Path
) -> None:
    """Issue 13 items 5 and 14: the Results table says a result sent as a message id in the
    reader's language; the signed JSON keeps its columns (and the English message)."""
    week, start = last_week()
    host = server.enroll("pc-fw")
    said = _result("firewall.host_firewall", "fail", "english sentence", {})
    said.update(message_id="firewall.no_kernel_filter", params={})
    send(host, start + datetime.timedelta(days=1), [said])
    data = collect_week(server.state.engine, week, ZONE, tmp_path, "tests")
    chinese = [row[9] for row in Readable(data, "zh", "Asia/Shanghai", CHECKS)._results()]
    assert "主机防火墙未启用：内核没有入站过滤规则" in chinese
    english = [row[9] for row in Readable(data, "en", "Asia/Shanghai", CHECKS)._results()]
    assert "no host firewall is active: the kernel has no input filter" in english
    report = _json_report(server, week, tmp_path)
    assert all(len(row) == len(report["columns"]) for row in report["rows"])
    assert "english sentence" in {row[report["columns"].index("message")] for row in report["rows"]}


def test_the_weeks_site_crawls_are_a_table_of_their_own(
    server: Server, fleet: dict[str, SignedAgent], tmp_path: Path
) -> None:
    """Where the report carries E13's site crawls (``e13_sites``, from site health), the
    readable forms give them a table in the language."""
    week, _start = last_week()
    data = collect_week(server.state.engine, week, ZONE, tmp_path, "tests")
    data.meta["e13_sites"] = [
        {
            "site": "school",
            "start_url": "https://www.school.edu.cn/",
            "status": "fail",
            "crawled_at": "2026-11-20T02:00:00Z",
            "pages": 120,
            "broken_links": 3,
        }
    ]
    tables = {table.key: table for table in Readable(data, "zh", "Asia/Shanghai", CHECKS).tables()}
    sites = tables["sites"]
    assert sites.title == "网站健康（E13）"
    assert list(sites.rows()) == [
        ["school", "https://www.school.edu.cn/", "未通过", 3, 120, "2026-11-20 10:00"]
    ]
