"""Settings in a real browser: Chromium against a real ``xunjian server run`` (two worker
processes). The first admin logs in (forced password change), adds an operator, changes the
operation log retention from 180 to 90 days and sees it saved; a value below 60 is refused with
a message and nothing changes; the operator cannot open Settings.

Screenshots are saved as artifacts (the folder is printed; ``test-artifacts/`` is ignored by
git). Runs on SQLite and, with XUNJIAN_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS, first_login
from tests.console_text import text as t
from tests.harness import ServerUnderTest, run_cli

ADMIN_PASSWORD = "Settings-admin-2026"
OPERATOR_PASSWORD = "Settings-oper-2026"
RETENTION = "input[name=oplog_retention_days]"


class Tab:
    """One person's browser tab on the console."""

    def __init__(self, page: Page, server: ServerUnderTest) -> None:
        self.page = page
        self.server = server
        page.set_default_timeout(30_000)

    def open(self, path: str) -> int:
        answer = self.page.goto(self.server.url + path)
        assert answer is not None
        return answer.status

    def path(self) -> str:
        return self.page.url.removeprefix(self.server.url)

    def submit(self, form: str) -> None:
        with self.page.expect_navigation():
            self.page.locator(f"{form} button[type=submit]").click()

    def first_login(self, name: str, one_time: str, new: str) -> None:
        first_login(self.page, self.server, name, one_time, new)

    def log_out(self) -> None:
        self.submit("header form")


@pytest.fixture
def tab(browser: Any, console_server: ServerUnderTest) -> Tab:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    return Tab(context.new_page(), console_server)


def test_an_admin_adds_an_operator_and_changes_the_retention(
    tab: Tab, console_server: ServerUnderTest, screenshot: Any
) -> None:
    print(f"screenshots: {SCREENSHOTS}")
    page = tab.page
    initial = (console_server.data / "initial-admin-password").read_text().strip()
    tab.first_login("admin", initial, ADMIN_PASSWORD)

    # Settings is in the admin's navigation; its landing page links every section.
    with page.expect_navigation():
        page.locator("header nav").get_by_role("link", name=t("Settings")).click()
    assert tab.path() == "/settings"
    landing = page.locator("main .settings-sections")
    for section in (
        "Console accounts",
        "Enrollment tokens",
        "API tokens",
        "Retention and sessions",
    ):
        expect(landing.get_by_role("link", name=t(section))).to_be_visible()
    screenshot(page, "settings-01-landing")

    # An operator account: the one-time password is shown once.
    with page.expect_navigation():
        landing.get_by_role("link", name=t("Console accounts")).click()
    form = page.locator("form.settings-form")
    form.locator("input[name=name]").fill("zhang.wei")
    form.locator("select[name=role]").select_option("operator")
    tab.submit("form.settings-form")
    expect(page.locator("main .notice")).to_be_visible()
    one_time = page.locator(".settings-secret-value").inner_text().strip()
    assert len(one_time) >= 8
    row = page.locator("table.settings-accounts tr[data-user='zhang.wei']")
    expect(row).to_contain_text(t("operator"))
    expect(row).to_contain_text(t("must change password"))
    screenshot(page, "settings-02-account-created")
    tab.open("/settings/accounts")
    expect(page.locator(".settings-secret-value")).to_have_count(0)  # shown once only

    # Retention 180 -> 90, through the settings menu.
    with page.expect_navigation():
        page.locator(".settings-menu").get_by_role("link", name=t("Retention and sessions")).click()
    assert tab.path() == "/settings/retention"
    expect(page.locator(RETENTION)).to_have_value("180")
    page.locator(RETENTION).fill("90")
    tab.submit("form.settings-form")
    expect(page.locator("main .notice")).to_have_text(
        t("Saved. Every server process uses the new values now.")
    )
    # Saved in the database: every reload (either of the two worker processes) shows it.
    for _ in range(4):
        tab.open("/settings/retention")
        expect(page.locator(RETENTION)).to_have_value("90")
    expect(page.locator(".settings-source[data-setting=oplog_retention_days]")).to_contain_text(
        "admin"
    )
    screenshot(page, "settings-03-retention-saved")

    # Below 60: the browser's own check stops the form (the field says min=60)...
    page.locator(RETENTION).fill("59")
    page.locator("form.settings-form button[type=submit]").click()
    assert page.locator(RETENTION).evaluate("field => field.validity.rangeUnderflow") is True
    assert tab.path() == "/settings/retention"
    # ...and without that check (an old browser, a hand-made request) the server refuses it.
    page.locator(RETENTION).evaluate("field => field.removeAttribute('min')")
    page.locator(RETENTION).fill("59")
    tab.submit("form.settings-form")
    refusal = t(
        "The operation log must be kept at least %(days)d days (POLICY.md E12). "
        "Nothing was changed."
    ) % {"days": 60}
    expect(page.locator("main .error")).to_have_text(refusal)
    screenshot(page, "settings-04-retention-refused")
    tab.open("/settings/retention")
    expect(page.locator(RETENTION)).to_have_value("90")

    # Another process, the purge command, applies the saved value.
    purge = run_cli("server", "oplog", "purge", "--data", str(console_server.data))
    assert "(90 days)" in purge.stdout, purge.stdout

    # The operator: forced password change, no Settings in the menu, 403 on the page.
    tab.log_out()
    tab.first_login("zhang.wei", one_time, OPERATOR_PASSWORD)
    expect(page.locator("header nav").get_by_role("link", name=t("Settings"))).to_have_count(0)
    assert tab.open("/settings") == 403
    assert tab.open("/settings/retention") == 403
    screenshot(page, "settings-05-operator-refused")
