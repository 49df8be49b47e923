"""A person looks at a Windows PC in the console: Chromium, a real server and a real agent
scanning the planted faulty Windows volume (tests/windows/volumes.py) through ``scan_root``.
The hosts list, the host page, the dashboard, a Linux-only check's page and the alerts all
say Windows; the Linux-only checks read *not for this platform*, never as failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_console_browser import Console, console, t  # noqa: F401 (a fixture)
from tests.harness import AgentUnderTest, ServerUnderTest, wait_for
from tests.windows.test_scan import PLANTED
from tests.windows.volumes import build_windows_volume


def test_a_person_sees_a_windows_pc_as_windows_with_its_failures(
    console: Console,  # noqa: F811 (the fixture imported above)
    console_server: ServerUnderTest,
    tmp_path: Path,
    screenshot: Any,
) -> None:
    volume = build_windows_volume(tmp_path / "pc", faulty=True)
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(console_server.create_token())
    agent.tune(scan_interval_seconds=3600, scan_root=str(volume.root))
    agent.start()
    try:
        page = console.page
        console.first_admin()
        host_path = f"/hosts/{agent.agent_id}"

        def scanned() -> bool:
            console.open(host_path)
            return page.locator("main table.results tbody tr").count() > 0

        wait_for("the Windows PC's first scan on its host page", scanned)
    finally:
        agent.stop()

    # The host page: Windows, its release and build; the planted failures; the Linux-only
    # checks as not for this platform.
    facts = page.locator("main p.facts .host-os")
    expect(facts.locator("[data-platform=windows]")).to_have_text(t("Windows"))
    expect(facts).to_contain_text("Windows 10 Pro 22H2")
    expect(facts).to_contain_text(t("build %(build)s").replace("%(build)s", "19045.2130"))
    rows = page.locator("main table.results tbody tr")
    failing = {
        (row.locator("td.check code").inner_text(), row.locator("td").nth(2).inner_text())
        for row in rows.all()
        if row.locator("td[data-status=fail]").count()
    }
    assert failing == PLANTED
    uid0 = rows.filter(has=page.locator("code", has_text="accounts.uid0_extra"))
    expect(uid0.locator("td[data-status]")).to_have_text(t("not for this platform"))
    expect(uid0.locator("td[data-status]")).to_have_attribute("data-reason", "platform")
    elsewhere = rows.locator("td[data-reason=platform]").count()
    assert elsewhere > 10  # every Linux-only check, none hidden
    expect(page.locator("main .platform-note")).to_be_visible()
    screenshot(page, "windows-01-host")

    # The hosts list, filtered to Windows by the person.
    console.open("/hosts")
    page.locator("select[name=platform]").select_option("windows")
    page.locator("form.fleet-filters button[type=submit]").click()
    page.wait_for_load_state()
    assert "platform=windows" in page.url
    listed = page.locator("main table.fleet-hosts tbody tr")
    expect(listed).to_have_count(1)
    expect(listed.locator("td.host-os [data-platform=windows]")).to_have_text(t("Windows"))
    expect(listed.locator("td.host-os")).to_contain_text("19045.2130")
    # The hosts list counts failing checks (docs/console.md, "Compliance"), not resources.
    expect(listed.locator("td").last).to_have_text(str(len({check for check, _ in PLANTED})))
    screenshot(page, "windows-02-hosts")

    # The dashboard counts the fleet by platform.
    console.open("/")
    by_platform = page.locator("main table.fleet-platform-counts tbody tr")
    expect(by_platform).to_have_count(1)
    expect(by_platform.first).to_have_attribute("data-platform", "windows")
    expect(by_platform.first.locator("td.num")).to_have_text("1")

    # A Linux-only check: its one host is under not applicable, as Windows.
    console.open("/checks/accounts.uid0_extra")
    table = page.locator("main table.fleet-status-platforms")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(
        table.locator("tbody tr[data-status=not_applicable] td[data-platform=windows]")
    ).to_have_text("1")
    expect(page.locator("main li[data-status=fail]")).to_contain_text(": 0")

    # The alerts: one per planted failure, each naming the host as Windows.
    console.open("/alerts")
    alerts = page.locator("main table.alerts-list tbody tr")
    expect(alerts).to_have_count(len(PLANTED))
    for row in alerts.all():
        expect(row.locator("[data-platform=windows]")).to_have_text(t("Windows"))
    screenshot(page, "windows-03-alerts")
