"""The Devices page in a real browser (Chromium, Chinese) against a real ``xunjian server run``
(two worker processes) and a real sshd on loopback: an admin adds a device with its
authorisation (refused until the confirmation is ticked), the server's own scheduled check finds
the vendor-default password, the page shows it failing, and "Show password" reveals it to the
admin. Screenshots go to test-artifacts/ like the other browser tests'."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import first_login
from tests.console_text import text as t
from tests.devices.sshd import Sshd
from tests.harness import ServerUnderTest

ADMIN_PASSWORD = "Devices-admin-2026"
VENDOR_DEFAULT = "Admin@huawei"  # server/devices/credentials/router.txt


@pytest.fixture
def sshd() -> Iterator[Sshd]:
    daemon = Sshd.make()
    try:
        yield daemon
    finally:
        daemon.stop()


class Tab:
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
            self.page.locator(f"{form} button[type=submit]").first.click()


def test_an_admin_adds_a_device_and_sees_its_default_password(
    browser: Any, console_server: ServerUnderTest, sshd: Sshd, tmp_path: Path, screenshot: Any
) -> None:
    user = sshd.add_account("default", VENDOR_DEFAULT).name
    sshd.start()
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "router.txt").write_text(f"{user}:password\n{user}:{VENDOR_DEFAULT}\n")
    console_server.stop()
    console_server.set_config(
        device_credentials_dir=str(lists), device_sweep_seconds=1, device_attempt_interval_ms=200
    )
    console_server.start()

    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    tab = Tab(context.new_page(), console_server)
    page = tab.page
    initial = (console_server.data / "initial-admin-password").read_text().strip()
    first_login(page, console_server, "admin", initial, ADMIN_PASSWORD)

    with page.expect_navigation():
        page.locator("header nav").get_by_role("link", name=t("Devices")).click()
    assert tab.path() == "/devices"
    form = page.locator("form.devices-add")
    form.locator("input[name=address]").fill("127.0.0.1")
    form.locator("input[name=port]").fill(str(sshd.port))
    form.locator("select[name=type]").select_option("router")
    form.locator("input[name=label]").fill("教学楼路由器")
    form.locator("input[name=authorised_by]").fill("王伟")
    form.locator("textarea[name=authorisation]").fill("学校自有设备,信息中心批准检查(工单 42)")
    tab.submit("form.devices-add")
    expect(page.locator("main .error")).to_have_text(
        t("Tick the box to confirm the organisation owns this device and allows the checks.")
    )
    expect(page.locator("table.devices")).to_have_count(0)  # nothing was added
    page.locator("form.devices-add input[name=confirm]").check()
    tab.submit("form.devices-add")
    expect(page.locator("main .notice")).to_be_visible()
    row = page.locator("table.devices tr[data-device]")
    expect(row).to_contain_text("教学楼路由器")
    expect(row).to_contain_text("王伟")
    screenshot(page, "devices-01-added")

    # The server's scheduled check (one of its two processes) finds the default password.
    deadline = time.monotonic() + 90
    while t("accepts a vendor-default password") not in row.inner_text():
        assert time.monotonic() < deadline, row.inner_text()
        time.sleep(1)
        tab.open("/devices")
    expect(row).to_contain_text(user)
    assert VENDOR_DEFAULT not in page.content()
    screenshot(page, "devices-02-default-found")

    tab.submit("table.devices tr[data-device] form[action$='/credential']")
    expect(page.locator(".devices-credential")).to_contain_text(VENDOR_DEFAULT)
    screenshot(page, "devices-03-password-shown")
    tab.open("/devices")
    assert VENDOR_DEFAULT not in page.content()  # shown once, for that POST only
    context.close()
