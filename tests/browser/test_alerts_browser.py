"""Alerts and the operation log as people use them: Chromium against a real ``xunjian server
run``. An enrolled agent (signing for real, tests/harness.py SimulatedAgent) reports a failing
check and the server opens an alert; an operator made with ``xunjian server user add`` logs
in, changes the one-time password, acknowledges the alert with a comment and adds another
comment; the REST API shows who acknowledged it; an auditor finds the acknowledgement in the
Operation log page with the browser's address and source port.

Screenshots: test-artifacts/screenshots/alerts-*.png and oplog-*.png (printed at the end).
Each test runs on SQLite and, when XUNJIAN_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import datetime
import json
import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import first_login
from tests.harness import (
    ServerUnderTest,
    SimulatedAgent,
    enroll_simulated,
    option_value,
    parse_printed_secret,
    run_cli,
    wait_for,
)
from xunjian.core.contract import PATH_REPORTS

NEW_PASSWORD = "Alerts-pass-2026"
CHECK = "accounts.uid0_extra"


def report_failure(server: ServerUnderTest, agent: SimulatedAgent) -> None:
    document = {
        "agent_id": agent.agent_id,
        "epoch": 1_700_000_000_000,
        "seq": 1,
        "kind": "scan",
        "created_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "policy_version": 1,
        "results": [
            {
                "check_id": CHECK,
                "status": "fail",
                "resource": "user:toor2",
                "message": "toor2 has UID 0",
                "evidence": {"uid": 0},
                "rules": ["E8"],
                "severity": "critical",
            }
        ],
        "inventory": {"hostname": "lab-pc-07", "os": "Debian GNU/Linux 12", "addresses": []},
        "gaps": [],
    }
    body = json.dumps(document).encode()
    answer = server.request("POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body))
    assert answer.status == 200, answer.body


def add_user(server: ServerUnderTest, name: str, role: str) -> str:
    done = run_cli("server", "user", "add", "--data", str(server.data), name, "--role", role)
    return parse_printed_secret(done.stdout)


def test_an_operator_acknowledges_an_alert_and_the_auditor_sees_it_logged(
    browser: Any, console_server: ServerUnderTest, screenshot: Any
) -> None:
    server = console_server
    enroll_words = server.create_token()
    agent = enroll_simulated(server, option_value(enroll_words, "--token"), "lab-pc-07")
    report_failure(server, agent)
    token = server.api_token()

    def open_alerts() -> list[dict[str, Any]]:
        answer = server.api(token, "GET", "/api/v1/alerts?status=open")
        return [a for a in answer.json()["alerts"] if a["check_id"] == CHECK]

    [alert] = wait_for("the alert to open", open_alerts)
    alert_id = alert["id"]
    operator_password = add_user(server, "olga", "operator")
    auditor_password = add_user(server, "audrey", "auditor")

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    first_login(page, server, "olga", operator_password, NEW_PASSWORD)

    page.locator('header nav a[href="/alerts"]').click()
    page.wait_for_load_state()
    row = page.locator(f'tr[data-alert="{alert_id}"]')
    expect(row).to_contain_text("lab-pc-07")
    expect(row).to_contain_text(CHECK)
    expect(row.locator('a[href$="/hosts/' + agent.agent_id + '"]')).to_have_count(1)
    shots = [screenshot(page, "alerts-1-list")]

    row.locator(f'a[href="/alerts/{alert_id}"]').first.click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/alerts/{alert_id}")
    ack = page.locator(f'form[action="/alerts/{alert_id}/ack"]')
    ack.locator("textarea[name=comment]").fill("正在联系机房管理员")
    ack.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("main .notice")).to_have_count(1)
    expect(page.locator("main .alerts-facts")).to_contain_text("olga")
    expect(page.locator(f'form[action="/alerts/{alert_id}/ack"]')).to_have_count(0)

    comment = page.locator(f'form[action="/alerts/{alert_id}/comment"]')
    comment.locator("textarea[name=text]").fill("账户 toor2 已停用，等待复核")
    comment.locator("button[type=submit]").click()
    page.wait_for_load_state()
    comments = page.locator("main .alerts-comments li")
    expect(comments).to_have_count(2)
    expect(comments.nth(1)).to_contain_text("账户 toor2 已停用")
    shots.append(screenshot(page, "alerts-2-acknowledged"))

    # The operator may not read the operation log.
    answer = page.goto(server.url + "/oplog")
    assert answer is not None and answer.status == 403
    context.close()

    answer = server.api(token, "GET", "/api/v1/alerts?status=acknowledged")
    [acked] = [a for a in answer.json()["alerts"] if a["id"] == alert_id]
    assert acked["acknowledged_by"] == "olga"
    assert [(c["author"], c["text"]) for c in acked["comments"]] == [
        ("olga", "正在联系机房管理员"),
        ("olga", "账户 toor2 已停用，等待复核"),
    ]

    # The auditor reads the operation log in the console.
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    first_login(page, server, "audrey", auditor_password, NEW_PASSWORD)
    page.locator('header nav a[href="/oplog"]').click()
    page.wait_for_load_state()
    expect(page.locator("main .oplog-chain")).to_have_count(1)
    page.locator("input[name=action]").fill("console.alert.")
    page.locator("form.oplog-filters button[type=submit]").click()
    page.wait_for_load_state()
    entries = server.api(token, "GET", "/api/v1/oplog?limit=1000").json()["entries"]
    [ack_entry] = [e for e in entries if e["action"] == "console.alert.ack"]
    assert ack_entry["actor"] == "olga" and ack_entry["target"] == f"alert:{alert_id}"
    assert ack_entry["client_address"] == "127.0.0.1"
    assert isinstance(ack_entry["client_port"], int) and ack_entry["client_port"] > 0
    shown = page.locator(f'tr[data-seq="{ack_entry["seq"]}"]')
    expect(shown).to_contain_text("console.alert.ack")
    expect(shown.locator(".oplog-peer")).to_have_text(f"127.0.0.1:{ack_entry['client_port']}")
    expect(page.locator("tr[data-seq]")).to_have_count(2)  # the ack and the comment
    shots.append(screenshot(page, "oplog-1-alert-actions"))
    context.close()

    # Viewing the log was itself recorded, with the filter.
    entries = server.api(token, "GET", "/api/v1/oplog?limit=1000").json()["entries"]
    views = [json.loads(e["details"]) for e in entries if e["action"] == "oplog.view"]
    assert {"action": "console.alert.", "returned": 2} in views
    assert [
        e["outcome"] for e in entries if e["actor"] == "olga" and e["action"] == "oplog.view"
    ] == ["refused"]
    assert re.search(r"Traceback", server.log()) is None, server.log()[-3000:]
    print("\nscreenshots:", *[str(shot) for shot in shots], sep="\n  ")
