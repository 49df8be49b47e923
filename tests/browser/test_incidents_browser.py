"""An incident as people handle one: Chromium against a real ``xunjian server run`` whose
on-call roster (config.json) has two tiers, each a webhook channel to a real receiver on
127.0.0.1. An agent (signing for real) reports a failing check; an operator opens the alert's
page, opens an incident from it, sees the server's own escalation thread tell tier 1
(网络管理员) and not yet tier 2, adds a note, acknowledges, and downloads the report, which
python-docx reads back with the record's facts; the operation log holds each step.

Screenshots: test-artifacts/screenshots/incidents-*.png. SQLite, and PostgreSQL when
XUNJIAN_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from playwright.sync_api import expect

from tests.browser.conftest import LOGIN_MAX_FAILURES, first_login
from tests.browser.test_alerts_browser import CHECK, add_user, report_failure
from tests.harness import ServerUnderTest, enroll_simulated, option_value, wait_for
from tests.server.test_alerts_delivery import Receiver

NEW_PASSWORD = "Incident-pass-2026"
# Tier 2 hears of it an hour later: far beyond this test, so tier 2 must stay untold.
TIER_ONE_DELAY = 3600


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    made = (Receiver(), Receiver())
    yield made
    for receiver in made:
        receiver.http.shutdown()
        receiver.http.server_close()


@pytest.fixture
def console_server(
    database_url: str,
    tmp_path: Path,
    data_folder_templates: object,
    receivers: tuple[Receiver, Receiver],
) -> Iterator[ServerUnderTest]:
    """The browser tests' server (tests/browser/conftest.py), with a two-tier roster."""
    under_test = ServerUnderTest(tmp_path / "server", database_url=database_url)
    under_test.init_copy(data_folder_templates)
    channels = [
        {
            "name": name,
            "kind": "webhook",
            "settings": {"url": receiver.url, "allow_http": True, "timeout_seconds": 10},
        }
        for name, receiver in zip(("duty", "it-head"), receivers, strict=True)
    ]
    under_test.set_config(
        heartbeat_interval_seconds=1,
        scan_interval_seconds=5,
        login_max_failures=LOGIN_MAX_FAILURES,
        alert_sweep_seconds=1,
        notify_channels=channels,
        oncall_tiers=[
            {"channels": ["duty"], "escalate_after_seconds": TIER_ONE_DELAY},
            {"channels": ["it-head"]},
        ],
    )
    under_test.start()
    try:
        yield under_test
    finally:
        under_test.stop()


def test_from_an_alert_to_an_incident_its_escalation_and_its_report(
    browser: Any,
    console_server: ServerUnderTest,
    receivers: tuple[Receiver, Receiver],
    screenshot: Any,
) -> None:
    server = console_server
    agent = enroll_simulated(server, option_value(server.create_token(), "--token"), "lab-pc-07")
    report_failure(server, agent)
    token = server.api_token()

    def the_alert() -> list[dict[str, Any]]:
        answer = server.api(token, "GET", "/api/v1/alerts?status=open")
        return [a for a in answer.json()["alerts"] if a["check_id"] == CHECK]

    [alert] = wait_for("the alert to open", the_alert)
    alert_id = alert["id"]
    password = add_user(server, "olga", "operator")

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    first_login(page, server, "olga", password, NEW_PASSWORD)
    page.goto(f"{server.url}/alerts/{alert_id}")
    opening = page.locator("form.incidents-open")
    opening.locator("input[name=title]").fill("机房 lab-pc-07 发现 UID 0 账户")
    opening.locator("textarea[name=note]").fill("已通知机房管理员到场")
    shots = [screenshot(page, "incidents-1-alert")]
    with page.expect_navigation():
        opening.locator("button[type=submit]").click()
    assert "/incidents/" in page.url, page.url
    number = int(page.url.split("/incidents/")[1].split("?")[0])
    expect(page.locator("main .notice")).to_have_count(1)
    expect(page.locator("main .incidents-facts")).to_contain_text("lab-pc-07")

    # The server's own escalation thread tells tier 1 (网络管理员); tier 2 waits its hour.
    wait_for("tier 1 to be told", lambda: receivers[0].deliveries[f"incident-{number}"])
    assert receivers[1].deliveries[f"incident-{number}"] == 0
    page.reload()
    expect(page.locator("main .incidents-notifications")).to_contain_text("网络管理员")
    expect(page.locator("main .incidents-timeline")).to_contain_text("已通知网络管理员")

    note = page.locator(f'form[action="/incidents/{number}/note"]')
    note.locator("textarea[name=text]").fill("已拔掉网线，账户 toor2 已停用")
    with page.expect_navigation():
        note.locator("button[type=submit]").click()
    ack = page.locator(f'form[action="/incidents/{number}/ack"]')
    with page.expect_navigation():
        ack.locator("button[type=submit]").click()
    expect(page.locator(f'form[action="/incidents/{number}/ack"]')).to_have_count(0)
    expect(page.locator("main .incidents-facts")).to_contain_text("olga")
    shots.append(screenshot(page, "incidents-2-incident"))

    with page.expect_download() as download_info:
        page.locator("a.incidents-report").click()
    download = download_info.value
    assert download.suggested_filename == f"incident-{number}-report.docx"
    document = Document(io.BytesIO(Path(download.path()).read_bytes()))
    text = "\n".join(
        [p.text for p in document.paragraphs]
        + [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    )
    for fact in (
        "网络与信息安全事件报告",
        f"#{number}",
        "机房 lab-pc-07 发现 UID 0 账户",
        "lab-pc-07",
        f"#{alert_id}",
        "已通知机房管理员到场",
        "已拔掉网线，账户 toor2 已停用",
        "olga 已确认",
        "已通知网络管理员",
        "分管领导（签字）",
    ):
        assert fact in text, fact

    # The incidents list shows it; the operation log holds each step.
    page.locator('header nav a[href="/incidents"]').click()
    page.wait_for_load_state()
    expect(page.locator(f'tr[data-incident="{number}"]')).to_contain_text("lab-pc-07")
    shots.append(screenshot(page, "incidents-3-list"))
    context.close()
    entries = server.api(token, "GET", "/api/v1/oplog?limit=1000").json()["entries"]
    steps = {(e["action"], e["target"]) for e in entries if e["actor"] == "olga"}
    for action in ("incidents.open", "incidents.note", "incidents.ack", "console.incident.report"):
        assert (action, f"incident:{number}") in steps, (action, steps)
    # Acknowledged: tier 2 is never told, whatever the thread does next.
    assert server.api(token, "GET", f"/api/v1/incidents/{number}").json()["status"] == (
        "acknowledged"
    )
    assert "Traceback" not in server.log(), server.log()[-3000:]
    print("\nscreenshots:", *[str(shot) for shot in shots], sep="\n  ")
