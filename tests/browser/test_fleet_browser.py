"""The fleet pages in Chromium against a real server: the dashboard, the hosts list's filters,
search and paging, a host's history, a check. Hosts are simulated agents that enroll and sign
their reports for real over HTTPS (tests/harness.py).

Screenshots (fleet-*.png) land in test-artifacts/screenshots/, like the console's others.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_console_browser import Console, console, t  # noqa: F401 (a fixture)
from tests.harness import (
    ServerUnderTest,
    SimulatedAgent,
    enroll_simulated,
    option_value,
    run_cli,
    wait_for,
)
from xunjian.core.contract import PATH_REPORTS

GROUPS = {"office": 32, "lab": 24}  # 56 hosts: two pages of 50


def send(server: ServerUnderTest, agent: SimulatedAgent, seq: int, results: list[Any]) -> None:
    when = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=3 - seq)
    body = json.dumps(
        {
            "agent_id": agent.agent_id,
            "epoch": 1,
            "seq": seq,
            "kind": "scan",
            "created_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "results": results,
            "inventory": {
                "hostname": "x",
                "os": "Debian GNU/Linux 12",
                "addresses": [
                    {
                        "interface": "eth0",
                        "mac": "52:54:00:00:00:01",
                        "ipv4": [f"10.20.{seq}.{len(agent.agent_id)}/24"],
                    }
                ],
            },
        }
    ).encode()
    answer = server.request("POST", PATH_REPORTS, body, agent.signed("POST", PATH_REPORTS, body))
    assert answer.status == 200, answer.body


def result(check_id: str, status: str) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "status": status,
        "resource": "host",
        "message": f"{check_id}: {status}",
        "evidence": {"status": status},
        "rules": ["E4"],
        "severity": "high",
    }


@pytest.fixture
def fleet(console_server: ServerUnderTest) -> dict[str, SimulatedAgent]:
    """56 hosts; every fourth fails password.policy; host lab-0003's firewall check changes from
    pass to fail; lab-0023 is revoked."""
    agents: dict[str, SimulatedAgent] = {}
    for group, count in GROUPS.items():
        token = option_value(console_server.create_token(uses=count, group=group), "--token")
        for index in range(count):
            name = f"{group}-{index:04d}"
            agent = enroll_simulated(console_server, token, name)
            agents[name] = agent
            policy = "fail" if index % 4 == 0 else "pass"
            send(
                console_server,
                agent,
                1,
                [result("password.policy", policy), result("firewall.host_firewall", "pass")],
            )
    send(
        console_server,
        agents["lab-0003"],
        2,
        [result("password.policy", "pass"), result("firewall.host_firewall", "fail")],
    )
    run_cli(
        "server", "agent", "revoke", "--data", str(console_server.data), agents["lab-0023"].agent_id
    )
    return agents


def rows(page: Page) -> Any:
    return page.locator("main table.fleet-hosts > tbody > tr")


# Simulated hosts stay online; the dashboard's compliance is recounted every second, so the
# counts the server's thread took while the fleet was still reporting are soon replaced.
@pytest.mark.server_config(heartbeat_interval_seconds=600, fleet_recount_seconds=1)
def test_dashboard_and_host_filters(
    console: Console,  # noqa: F811 (the fixture imported above)
    fleet: dict[str, SimulatedAgent],
    screenshot: Any,
) -> None:
    page = console.page
    page.set_viewport_size({"width": 1280, "height": 900})
    console.first_admin()
    expect(page.locator("main h1")).to_have_text(t("Dashboard"))

    seen: list[list[str]] = []

    def counted() -> bool:
        console.open("/")
        scores = page.locator("table.fleet-compliance td[data-score]").all_inner_texts()
        seen.append([score.strip() for score in scores])
        return seen[-1] == ["-", "84.8%", "87.5%"]  # default, lab, office

    wait_for(f"the dashboard to count the whole fleet (seen: {seen[-3:]})", counted)
    cards = page.locator(".fleet-cards")
    expect(cards.locator("[data-count=online] .fleet-number")).to_have_text("55")
    expect(cards.locator("[data-count=revoked] .fleet-number")).to_have_text("1")
    expect(cards.locator("[data-count=total] .fleet-number")).to_have_text("56")
    # office: 8 of 32 fail password.policy -> 56 of 64 pairs pass; lab (23 hosts left): 6
    # fail it (0, 4, ... 20), lab-0003 fails the firewall -> 39 of 46.
    expect(page.locator("tr[data-severity=high] td").nth(1)).to_have_text("15")
    chart = page.locator("figure.fleet-chart > svg")
    expect(chart).to_be_visible()
    expect(chart.locator("g.fleet-line[data-group=''] circle")).to_have_count(1)  # this week
    screenshot(page, "fleet-01-dashboard")

    # The hosts list: every host, two pages.
    page.locator("header nav a", has_text=t("Hosts")).click()
    page.wait_for_load_state()
    expect(page.locator("main h1")).to_have_text(f"{t('Hosts')} (56)")
    expect(rows(page)).to_have_count(50)
    expect(page.locator(".fleet-page-of")).to_have_text(
        t("Page %(page)d of %(pages)d") % {"page": 1, "pages": 2}
    )
    page.locator(".fleet-pager a[rel=next]").click()
    page.wait_for_load_state()
    expect(rows(page)).to_have_count(6)

    # Filters through the form, as a person sets them.
    console.open("/hosts")
    form = page.locator("form.fleet-filters")
    form.locator("select[name=group]").select_option("lab")
    form.locator("select[name=failing]").select_option("password.policy")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "group=lab" in page.url and "failing=password.policy" in page.url
    # lab-0000, 0004, ..., 0020 (lab-0003 passes it now; none of these is revoked).
    expect(rows(page)).to_have_count(6)
    expect(page.locator("main h1")).to_have_text(f"{t('Hosts')} (6)")
    expect(form.locator("select[name=group]")).to_have_value("lab")
    screenshot(page, "fleet-02-hosts-filtered")

    form.locator("select[name=status]").select_option("revoked")
    form.locator("select[name=failing]").select_option("")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator("td.col-state")).to_have_text(t("revoked"))

    page.get_by_role("link", name=t("Clear the filters")).click()
    page.wait_for_load_state()
    form.locator("input[name=q]").fill("office-001")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    expect(rows(page)).to_have_count(10)  # office-0010 .. office-0019
    screenshot(page, "fleet-03-hosts-search")

    # A bad value in the address bar: a 400 page that says what is wrong.
    assert console.open("/hosts?status=asleep") == 400
    expect(page.locator("main")).to_contain_text(
        t("The status must be online, offline, device, revoked or isolated.")
    )

    # A host's page: its history shows the firewall check turning to fail.
    console.open("/hosts?q=lab-0003")
    rows(page).first.get_by_role("link", name="lab-0003").click()
    page.wait_for_load_state()
    history = page.locator("table.fleet-history > tbody > tr[data-check='firewall.host_firewall']")
    expect(history).to_have_count(2)
    expect(history.first).to_have_attribute("data-status", "fail")
    expect(page.locator("#oplog")).to_be_visible()  # admin: the operation log section
    # The failing firewall row says what to do, in the page's language (issue 13 item 4).
    from checks.api import registry_catalog

    [firewall] = [e for e in registry_catalog() if e["id"] == "firewall.host_firewall"]
    failing_row = page.locator("table.results tr", has=page.locator("td[data-status=fail]"))
    expect(failing_row.locator(".remediation")).to_contain_text(firewall["remediation"]["zh"])
    expect(failing_row.locator(".remediation")).to_be_visible()
    screenshot(page, "fleet-04-host")

    # The check page, from the host's results, in Chinese.
    page.locator("table.results a[href='/checks/firewall.host_firewall']").click()
    page.wait_for_load_state()
    expect(page.locator("table.fleet-failing > tbody > tr")).to_have_count(1)
    expect(page.locator("li[data-status=pass]")).to_contain_text("54")
    screenshot(page, "fleet-05-check")
