"""Host isolation in Chromium against a real server (docs/incidents.md): the Isolate button on a
host's page with a reason, the state the agent then reports (a simulated agent that signs its
heartbeats for real), the badge on the hosts list, the dashboard and the alert, and the release
from the alert's page. Screenshots: isolation-*.png."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_console_browser import Console, console, t  # noqa: F401 (a fixture)
from tests.browser.test_fleet_browser import result, send
from tests.harness import ServerUnderTest, SimulatedAgent, enroll_simulated, option_value
from xunjian.core.contract import PATH_HEARTBEAT


def heartbeat(
    server: ServerUnderTest, agent: SimulatedAgent, acked: list[str], isolation: Any = None
) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"spool_depth": 0, "epoch": 1, "acked_commands": acked}
    if isolation is not None:
        body["isolation"] = isolation
    data = json.dumps(body).encode()
    answer = server.request(
        "POST", PATH_HEARTBEAT, data, agent.signed("POST", PATH_HEARTBEAT, data)
    )
    assert answer.status == 200, answer.body
    return list(answer.json()["commands"])


def test_isolate_from_the_host_page_and_release_from_the_alert(
    console: Console,  # noqa: F811 (the fixture imported above)
    console_server: ServerUnderTest,
    screenshot: Any,
) -> None:
    token = option_value(console_server.create_token(), "--token")
    agent = enroll_simulated(console_server, token, "lab-pc-07")
    send(console_server, agent, 1, [result("files.webshell_found", "fail")])
    page = console.page
    console.first_admin()

    console.open(f"/hosts/{agent.agent_id}")
    panel = page.locator("section#isolation")
    expect(panel.locator("h2")).to_have_text(t("Isolation"))
    panel.locator("input[name=reason]").fill("教师机发现网页木马")
    panel.locator("button.isolation-isolate").click()
    page.wait_for_load_state()
    expect(page.locator(".isolation-notice")).to_be_visible()
    expect(panel.locator(".isolation-status")).to_have_attribute("data-status", "isolating")
    expect(panel.locator(".isolation-reason")).to_have_text("教师机发现网页木马")

    [command] = heartbeat(console_server, agent, [])
    assert command["type"] == "isolate" and command["generation"] == 1
    reported = {
        "state": "isolated",
        "generation": 1,
        "changed_at": "2026-12-07T08:00:00Z",
        "command_id": command["id"],
        "backend": "nftables",
        "rules": "table inet xunjian_isolation { }",
    }
    heartbeat(console_server, agent, [command["id"]], reported)
    console.open(f"/hosts/{agent.agent_id}")
    expect(page.locator("p.facts .isolated")).to_have_text(t("isolated"))
    expect(panel.locator(".isolation-status")).to_have_attribute("data-status", "isolated")
    expect(panel.locator("button.isolation-release")).to_have_text(t("Release from isolation"))
    screenshot(page, "isolation-01-host")

    console.open("/hosts?status=isolated")
    expect(page.locator("main table.fleet-hosts > tbody > tr")).to_have_count(1)
    expect(page.locator("main table.fleet-hosts .isolated")).to_have_text(t("isolated"))
    console.open("/")
    expect(page.locator("[data-count=isolated] .fleet-number")).to_have_text("1")

    console.open("/alerts")
    alert_link = page.locator("main table a[href^='/alerts/']").first
    expect(page.locator("main table .isolated").first).to_have_text(t("isolated"))
    alert_link.click()
    page.wait_for_load_state()
    alert_panel = page.locator("section#isolation")
    alert_panel.locator("input[name=reason]").fill("木马已清除")
    alert_panel.locator("button.isolation-release").click()
    page.wait_for_load_state()
    assert "/alerts/" in console.path()
    expect(page.locator("section#isolation .isolation-status")).to_have_attribute(
        "data-status", "releasing"
    )
    screenshot(page, "isolation-02-alert")
    [release] = heartbeat(console_server, agent, [])
    assert release["type"] == "release" and release["generation"] == 2
