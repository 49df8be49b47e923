"""The Weekly reports page as an auditor meets it on a new install (issue 13 items 13, 15):
Chromium (Chinese) against a real ``xunjian server run``. The page offers this week so far and
the last complete week, each named; keeping this week's report lists it as partial; the
signing key's public half downloads, and with it ``xunjian report verify`` accepts the
downloaded report."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import first_admin_page
from tests.console_text import text as t
from tests.harness import ServerUnderTest

ADMIN_PASSWORD = "Reports-admin-2026"
VERIFY = (sys.executable, "-m", "xunjian.cli", "report", "verify")


def test_this_week_so_far_and_the_public_key(
    browser: Any, console_server: ServerUnderTest, screenshot: Any, tmp_path: Path
) -> None:
    server = console_server
    page = first_admin_page(browser, server, ADMIN_PASSWORD, accept_downloads=True)
    with page.expect_navigation():
        page.locator("header nav").get_by_role("link", name=t("Weekly reports")).click()

    this_week = page.locator('form.reports-quick button[data-week="this"]')
    last_week = page.locator('form.reports-quick button[data-week="last"]')
    week = this_week.get_attribute("value")
    assert week is not None
    expect(this_week).to_have_text(t("This week so far (%(week)s, partial)") % {"week": week})
    expect(last_week).to_contain_text(t("Last complete week (%(week)s)").split("（")[0])
    with page.expect_navigation():
        this_week.click()
    row = page.locator("table.reports-list tbody tr").first
    expect(row).to_contain_text(week)
    expect(row.locator(".reports-partial")).to_have_text(t("partial"))
    screenshot(page, "reports-01-this-week")

    with page.expect_download() as downloading:
        page.locator("a.reports-public-key").click()
    key = tmp_path / "report-signing.pub"
    downloading.value.save_as(key)
    assert key.read_bytes() == (server.data / "report-signing.pub").read_bytes()
    with page.expect_download() as downloading:
        row.locator('a[href$="/json"]').click()
    report = tmp_path / "report.json"
    downloading.value.save_as(report)
    done = subprocess.run(
        [*VERIFY, str(report), "--public-key", str(key)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    # The auditor's tables in the page's language (issue 13 item 14): a zip of CSV files, one
    # table each, with Chinese headers and a table per POLICY.md rule.
    with page.expect_download() as downloading:
        row.locator('a[data-format="csv"]').click()
    assert downloading.value.suggested_filename == f"xunjian-weekly-{week}-zh-csv.zip"
    tables = tmp_path / "report.zip"
    downloading.value.save_as(tables)
    with zipfile.ZipFile(tables) as archive:
        names = archive.namelist()
        assert names[:4] == ["01-facts.csv", "02-groups.csv", "03-hosts.csv", "04-results.csv"]
        assert any(name.startswith("05-rule-E") for name in names)
        header = archive.read("04-results.csv").decode("utf-8-sig").splitlines()[0]
    assert header.startswith("结果,严重性,分组,主机名,主机编号,检查项,检查项编号,制度条款")
    page.context.close()
