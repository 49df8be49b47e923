"""From the alert to isolation to the incident report, with real parts (issue 17, "Proof"):
Chromium against a real ``xunjian server run``, and a real ``xunjian agent run`` in a network
namespace of its own with an "outside" web server beside it (tests/isolation/netns.py; real
nftables).

The agent's agent.json allows ``scan_now``, ``evidence``, ``isolate`` and ``release``, and its
file watcher watches a web root. A web shell dropped there raises a ``webshell`` alert. An
admin opens the alert, opens an incident from it, isolates the host from the alert's page with
a reason, and sees the host isolated (while the host cannot reach the outside, nor the outside
it). The evidence snapshot the agent took before its rules arrives through the kept link and
its SHA-256 appears on the incident; the report (DOCX, read back with python-docx) holds the
isolation with its reason and that hash. Then the host is released from the alert's page.

Screenshots: test-artifacts/screenshots/incident-isolation-*.png.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from docx import Document
from playwright.sync_api import expect

from tests.browser.conftest import browser_home, first_admin_page, launch
from tests.harness import wait_for
from tests.isolation.test_isolation_e2e import ISOLATED, OPEN, Scene, scene  # noqa: F401

SHELL = b"<?php @eval($_POST['pass']);?>\n"
PASSWORD = "Isolate-pass-2026"
REASON = "教师机 web 目录发现网页木马，断网保护现场"


def docx_text(data: bytes) -> str:
    document = Document(io.BytesIO(data))
    return "\n".join(
        [p.text for p in document.paragraphs]
        + [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    )


def test_from_a_webshell_alert_to_isolation_evidence_and_the_report(
    scene: Scene,  # noqa: F811 (the fixture imported above)
    playwright_session: Any,
    tmp_path: Path,
    screenshot: Any,
) -> None:
    server = scene.server
    token = server.api_token()
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("<h1>实验小学</h1>")
    watch = {"folders": [{"path": str(www), "kind": "web_root"}], "sensitive_words": []}
    assert server.api(token, "PUT", "/api/v1/groups/default/watch", watch).status == 200
    config_path = scene.state / "agent.json"
    config = json.loads(config_path.read_text())
    config.update(
        allowed_commands=["scan_now", "evidence", "isolate", "release"],
        watch_interval_seconds=1,
    )
    config_path.write_text(json.dumps(config))
    wait_for("the outside web servers", lambda: scene.reachability() == OPEN, timeout=60)
    scene.start_agent()

    def first_event() -> bool:
        answer = server.api(token, "GET", f"/api/v1/file-events?host={scene.agent_id}")
        return any(e["path"].endswith("index.html") for e in answer.json()["events"])

    wait_for("the watcher's first rescan", first_event, timeout=90)
    (www / "upload.php").write_bytes(SHELL)

    def webshell_alert() -> list[dict[str, Any]]:
        alerts = server.api(token, "GET", "/api/v1/alerts?status=open").json()["alerts"]
        return [a for a in alerts if a["kind"] == "webshell"]

    [alert] = wait_for("the webshell alert", webshell_alert, timeout=90)
    assert alert["host"]["id"] == scene.agent_id

    home = browser_home(tmp_path / "browser-home", server.data / "ca" / "ca.pem")
    browser = launch(playwright_session, home)
    try:
        page = first_admin_page(browser, server, PASSWORD, accept_downloads=True)
        page.goto(f"{server.local_url}/alerts/{alert['id']}")
        opening = page.locator("form.incidents-open")
        opening.locator("input[name=title]").fill("网站目录发现网页木马")
        with page.expect_navigation():
            opening.locator("button[type=submit]").click()
        assert "/incidents/" in page.url, page.url
        number = int(page.url.split("/incidents/")[1].split("?")[0])

        # Isolate from the alert's page, with a reason.
        page.goto(f"{server.local_url}/alerts/{alert['id']}")
        panel = page.locator("section#isolation")
        panel.locator("input[name=reason]").fill(REASON)
        with page.expect_navigation():
            panel.locator("button.isolation-isolate").click()
        assert f"/alerts/{alert['id']}" in page.url, page.url

        def shown(status: str) -> bool:
            page.reload()
            found = page.locator("section#isolation .isolation-status").get_attribute("data-status")
            return found == status

        try:
            wait_for("the alert page to show the host isolated", lambda: shown("isolated"), 90)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nagent log:\n{scene.agent_log.read_text()}") from exc
        expect(page.locator("main .isolated").first).to_have_text("已隔离")
        screenshot(page, "incident-isolation-1-alert")
        assert scene.reachability() == ISOLATED
        page.goto(f"{server.local_url}/hosts/{scene.agent_id}")
        expect(page.locator("p.facts .isolated")).to_be_visible()
        expect(page.locator("section#isolation .isolation-reason")).to_have_text(REASON)

        # The snapshot taken before the rules arrives through the kept link.
        def stored() -> list[dict[str, Any]]:
            answer = server.api(token, "GET", f"/api/v1/evidence?host={scene.agent_id}")
            return [s for s in answer.json()["evidence"] if s["complete"]]

        [snapshot] = wait_for("the evidence snapshot", stored, timeout=120)
        digest = snapshot["sha256"]
        page.goto(f"{server.local_url}/incidents/{number}")
        expect(page.locator("main .incidents-evidence")).to_contain_text(digest)
        timeline = page.locator("main .incidents-timeline")
        expect(timeline.locator("tr.incidents-event-isolated").first).to_contain_text(REASON)
        screenshot(page, "incident-isolation-2-incident")

        with page.expect_download() as download_info:
            page.locator("a.incidents-report").click()
        text = docx_text(Path(download_info.value.path()).read_bytes())
        for fact in ("网络与信息安全事件报告", f"#{number}", "断网隔离", REASON, digest):
            assert fact in text, fact

        # Released from the alert's page: reachable again.
        page.goto(f"{server.local_url}/alerts/{alert['id']}")
        panel = page.locator("section#isolation")
        panel.locator("input[name=reason]").fill("木马已清除，恢复联网")
        with page.expect_navigation():
            panel.locator("button.isolation-release").click()
        wait_for("the alert page to show the host released", lambda: shown("released"), 90)
        assert scene.reachability() == OPEN
        page.context.close()
    finally:
        browser.close()
    actions = scene.oplog_actions()
    assert "console.host.isolate" in actions and "console.host.release" in actions
    assert "evidence.stored" in actions
    assert "Traceback" not in server.log(), server.log()[-3000:]
