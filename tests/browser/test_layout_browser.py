"""Issue 13 item 8, as a person meets the pages in Chromium against a real server: two PCs
named ``vm`` told apart in the hosts list (address and short id), columns sorted by a click, a
host page that stays on the screen with its evidence open and a long inventory folded, bulk
acknowledgement of alerts with one comment, the English header on one line at 1366 px, the key
columns of hosts and alerts on screen at phone width (390 px), and a favicon.

Hosts are simulated agents that enroll and sign their reports for real (tests/harness.py).
Screenshots: test-artifacts/screenshots/layout-*.png.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_console_browser import Console, console, t  # noqa: F401 (a fixture)
from tests.harness import ServerUnderTest, SimulatedAgent, enroll_simulated, option_value
from xunjian.core.contract import PATH_REPORTS

PACKAGES = 3000  # a desktop's installed packages: the inventory that made a 23,000 px page
LONG_EVIDENCE = {
    "listening": [f"tcp 0.0.0.0:{port} /usr/bin/some-daemon-{port}" for port in range(40)]
}


def send(server: ServerUnderTest, agent: SimulatedAgent, address: str) -> None:
    body = json.dumps(
        {
            "agent_id": agent.agent_id,
            "epoch": 1,
            "seq": 1,
            "kind": "scan",
            "created_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "results": [
                {
                    "check_id": "network.listening_unknown",
                    "status": "fail",
                    "resource": "port:tcp/8443",
                    "message": "a program of unknown purpose listens on 0.0.0.0:8443",
                    "evidence": LONG_EVIDENCE,
                    "rules": ["E6"],
                    "severity": "high",
                },
                {
                    "check_id": "firewall.enabled",
                    "status": "fail",
                    "resource": "host",
                    "message": "no firewall is active",
                    "evidence": {},
                    "rules": ["E6"],
                    "severity": "medium",
                },
            ],
            "inventory": {
                "hostname": "vm",
                "os": "Debian GNU/Linux 12",
                "addresses": [
                    {"interface": "lo", "mac": "00:00:00:00:00:00", "ipv4": ["127.0.0.1/8"]},
                    {"interface": "eth0", "mac": "52:54:00:00:00:01", "ipv4": [address]},
                ],
                "packages": [
                    {"name": f"package-{index:05d}", "version": "1.0-1"}
                    for index in range(PACKAGES)
                ],
            },
        }
    ).encode()
    answer = server.request("POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body))
    assert answer.status == 200, answer.body


@pytest.fixture
def two_vms(console_server: ServerUnderTest) -> dict[str, SimulatedAgent]:
    token = option_value(console_server.create_token(uses=2), "--token")
    first = enroll_simulated(console_server, token, "vm")
    second = enroll_simulated(console_server, token, "vm")
    send(console_server, first, "10.0.5.11/24")
    send(console_server, second, "10.0.5.12/24")
    return {"10.0.5.11": first, "10.0.5.12": second}


def right_edge(page: Page, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"]


def scroll_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


@pytest.mark.server_config(heartbeat_interval_seconds=600)
def test_at_1366_px_in_english(
    console: Console,  # noqa: F811 (the fixture imported above)
    two_vms: dict[str, SimulatedAgent],
    screenshot: Any,
) -> None:
    page = console.page
    page.set_viewport_size({"width": 1366, "height": 900})
    console.first_admin()
    console.open("/language/en?next=/hosts")
    assert console.path() == "/hosts"

    # The header on one line: the product, every link, the languages and the log-out button
    # share one row (their vertical middles within a few pixels).
    expect(page.locator("header nav a").first).to_be_visible()
    parts = page.locator("header .product, header nav a, header .languages a, header button").all()
    middles = [
        box["y"] + box["height"] / 2 for box in (part.bounding_box() for part in parts) if box
    ]
    assert len(middles) >= 8 and max(middles) - min(middles) < 6, middles

    # Two hosts named vm, told apart by address and short id.
    rows = page.locator("main table.fleet-hosts > tbody > tr")
    expect(rows).to_have_count(2)
    seen = {}
    for row in rows.all():
        address = row.locator("td.col-address").inner_text().strip()
        short = row.locator(".host-id").inner_text().strip()
        seen[address] = short
        assert row.locator("td.host-name a").inner_text() == "vm"
    assert seen == {address: agent.agent_id[:8] for address, agent in two_vms.items()}

    # Sort by address order of names: ascending by name, then a click on Failing checks.
    failing = page.locator("th[data-sort=failing] a")
    failing.click()
    page.wait_for_load_state()
    expect(page.locator("th[data-sort=failing]")).to_have_attribute("aria-sort", "ascending")
    assert "sort=failing" in page.url
    page.locator("th[data-sort=failing] a").click()
    page.wait_for_load_state()
    expect(page.locator("th[data-sort=failing]")).to_have_attribute("aria-sort", "descending")
    screenshot(page, "layout-01-hosts-1366")

    # A host page: the evidence opened, the time column still on the screen; the packages
    # folded, the page a page.
    rows.first.locator("td.host-name a").click()
    page.wait_for_load_state()
    results = page.locator("table.results")
    results.locator("td.evidence summary").first.click()
    expect(results.locator("td.evidence details[open] pre").first).to_be_visible()
    assert right_edge(page, "table.results td.time") <= 1366
    assert scroll_width(page) <= 1366
    packages = page.locator("tr[data-key=packages] details.inventory-long")
    expect(packages.locator("summary")).to_have_text(f"{PACKAGES} entries: show")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 4000, height
    packages.locator("summary").click()
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 5000, height  # opened, it scrolls inside its own box
    expect(packages).to_contain_text("The first 500 of 3000 are shown")
    expect(packages.locator("pre")).to_contain_text("package-00499 1.0-1\n")
    screenshot(page, "layout-02-host-1366")

    # The favicon a browser asks for on its own.
    answer = page.goto(console.server.url + "/favicon.ico")
    assert answer is not None and answer.status == 200
    assert answer.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file's header


@pytest.mark.server_config(heartbeat_interval_seconds=600)
def test_at_390_px_and_bulk_acknowledgement(
    console: Console,  # noqa: F811 (the fixture imported above)
    two_vms: dict[str, SimulatedAgent],
    screenshot: Any,
) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    console.first_admin()

    console.open("/hosts")
    for cell in ("td.host-name", "td.col-address", "td.col-state", "td.num"):
        assert right_edge(page, f"table.fleet-hosts {cell}") <= 390, cell
    assert scroll_width(page) <= 390
    screenshot(page, "layout-03-hosts-390")

    console.open("/alerts")
    rows = page.locator("table.alerts-list > tbody > tr")
    expect(rows).to_have_count(4)  # two checks failing on each vm
    for cell in ("td.alerts-pick", "td:has(.alerts-status)", "td.wrap"):
        assert right_edge(page, f"table.alerts-list {cell}") <= 390, cell
    assert scroll_width(page) <= 390
    screenshot(page, "layout-04-alerts-390")

    # Tick three of them, one comment, acknowledge.
    boxes = page.locator("input[name=alert]")
    for index in range(3):
        boxes.nth(index).check()
    page.locator("textarea[name=comment]").fill("已知问题，本周内处理")
    page.locator("button[name=action][value=ack]").click()
    page.wait_for_load_state()
    expect(page.locator("main p.notice")).to_have_text(t("%(n)d alert(s) acknowledged.") % {"n": 3})
    expect(page.locator(".alerts-status-acknowledged")).to_have_count(3)
    expect(page.locator(".alerts-status-open")).to_have_count(1)
    page.locator("table.alerts-list > tbody > tr:has(.alerts-status-acknowledged) a").first.click()
    page.wait_for_load_state()
    expect(page.locator("main")).to_contain_text("已知问题，本周内处理")
    screenshot(page, "layout-05-alert-390")
