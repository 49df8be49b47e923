"""The console as a person uses it: Chromium, a real server process and a real agent.

Each test runs on SQLite and, when XUNJIAN_TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from checks.api import registry_catalog
from tests.browser.conftest import LOGIN_MAX_FAILURES, browser_home, launch
from tests.console_text import text
from tests.harness import AgentUnderTest, ServerUnderTest, wait_for

NEW_PASSWORD = "Browser-pass-2026"
ZH = "zh"
STATUS_WORDS = {
    "pass": "pass",
    "fail": "fail",
    "error": "error",
    "not_applicable": "not applicable",
    "no_privilege": "no privilege",
}
LOGIN_FAILED = "Login failed. Check the name and password; after repeated failures, wait a while."
NO_HOSTS = (
    "No hosts yet. Create an enrollment token (Settings, Enrollment tokens), or on the server with:"
)
PASSWORD_RULE = "At least 8 characters, with three of: lower case, upper case, digits, symbols."
CSRF_REFUSED = "Missing or wrong CSRF token: nothing was changed. Reload the page and try again."


def initial_password(server: ServerUnderTest) -> str:
    return (server.data / "initial-admin-password").read_text().strip()


def t(msgid: str, language: str = ZH) -> str:
    return text(msgid, language)


# Runs in the page: a same-origin form POST with the session cookie, redirects not followed.
POST_FROM_PAGE = """async ({path, fields}) => {
    const answer = await fetch(path, {method: "POST", body: new URLSearchParams(fields),
                                      redirect: "manual"});
    return answer.status;
}"""


class Console:
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

    def log_in(self, name: str, password: str) -> None:
        if not self.path().startswith("/login"):
            self.open("/login")
        self.page.locator("input[name=name]").fill(name)
        self.page.locator("input[name=password]").fill(password)
        self.page.locator("main button[type=submit]").click()
        self.page.wait_for_load_state()

    def change_password(self, current: str, new: str, confirm: str | None = None) -> None:
        self.page.locator("input[name=current_password]").fill(current)
        self.page.locator("input[name=new_password]").fill(new)
        self.page.locator("input[name=confirm_password]").fill(new if confirm is None else confirm)
        self.page.locator("main button[type=submit]").click()
        self.page.wait_for_load_state()

    def log_out(self) -> None:
        self.page.locator("header button[type=submit]").click()
        self.page.wait_for_load_state()

    def first_admin(self) -> None:
        """Log in as the first admin and get past the forced password change."""
        self.open("/")
        self.log_in("admin", initial_password(self.server))
        assert self.path() == "/password", self.page.content()
        self.change_password(initial_password(self.server), NEW_PASSWORD)
        assert self.path() == "/", self.page.content()  # the dashboard (server/fleet)

    def error_text(self) -> str:
        errors = self.page.locator("main .error")
        expect(errors).to_have_count(1)
        expect(errors).to_be_visible()
        return errors.inner_text()


def assert_styled(page: Page) -> None:
    """The style sheet arrived and applies: the header is dark, the page is not the default."""
    header = page.locator("header")
    colour = header.evaluate("element => getComputedStyle(element).backgroundColor")
    assert colour == "rgb(36, 41, 47)", colour
    family = page.locator("body").evaluate("element => getComputedStyle(element).fontFamily")
    assert "Noto Sans CJK SC" in family, family


@pytest.fixture
def console(browser: Any, console_server: ServerUnderTest) -> Console:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    return Console(context.new_page(), console_server)


def test_a_browser_without_the_ca_refuses_the_server(
    playwright_session: Any, console_server: ServerUnderTest, console: Console, tmp_path: Path
) -> None:
    # The console's browser trusts DATA/ca/ca.pem through its NSS database, and nothing else...
    assert console.open("/login") == 200
    # ...while a browser with an empty trust store refuses the very same server.
    stranger = launch(playwright_session, browser_home(tmp_path / "no-ca-home", None))
    try:
        with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
            stranger.new_page().goto(console_server.url + "/login")
    finally:
        stranger.close()


def test_first_login_forces_a_password_change_and_the_new_password_works(
    console: Console, console_server: ServerUnderTest, screenshot: Any
) -> None:
    page = console.page
    assert console.open("/") == 200
    assert console.path() == "/login"  # nothing is shown before login
    expect(page.locator("main h1")).to_have_text(t("Log in"))
    assert_styled(page)
    screenshot(page, "01-login")

    first = initial_password(console_server)
    console.log_in("admin", first)
    assert console.path() == "/password"
    expect(page.locator("main")).to_contain_text(
        t("Please choose a new password before you continue.")
    )
    expect(page.locator("main")).to_contain_text(t(PASSWORD_RULE))
    screenshot(page, "02-password-change")

    # The console will not let the person past it: every page leads back here, and the page
    # offers no navigation whose links would all lead back.
    expect(page.locator("header nav")).to_have_count(0)
    expect(page.locator("header")).to_contain_text("admin")  # still says who, with log out
    console.open("/hosts")
    assert console.path() == "/password"

    # Letters only (one class of four): refused by E4, with a message a person can read.
    console.change_password(first, "onlylowercaseletters")
    assert console.path() == "/password"
    message = console.error_text()
    assert message.startswith(t("The new password does not meet the rule: ")), message
    assert "8" in message, message
    assert re.search(r"[a-z]{3}", message) is None, f"English words in a Chinese page: {message}"
    screenshot(page, "03-password-refused")
    # Two new passwords that differ are refused too.
    console.change_password(first, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert console.error_text() == t("The new passwords differ.")
    console.open("/hosts")
    assert console.path() == "/password"

    console.change_password(first, NEW_PASSWORD)
    assert console.path() == "/"  # the dashboard
    # The one-time password's file is gone with it.
    assert not (console_server.data / "initial-admin-password").exists()
    expect(page.locator("header nav")).to_be_visible()
    expect(page.locator("main h1")).to_have_text(t("Dashboard"))
    expect(page.locator("header")).to_contain_text("admin")
    console.open("/hosts")
    expect(page.locator("main")).to_contain_text(t(NO_HOSTS))
    # The command as it runs on the server: with this server's data folder (issue 13 item 9).
    expect(page.locator("main code")).to_have_text(
        f"xunjian server token create --data {console_server.data.resolve()}"
    )

    console.log_out()
    assert console.path() == "/login"
    console.open("/hosts")
    assert console.path() == "/login"  # the session is gone

    console.log_in("admin", first)  # the one-time password is spent
    assert console.path() == "/login"
    assert console.error_text() == t(LOGIN_FAILED)
    console.log_in("admin", NEW_PASSWORD)
    assert console.path() == "/"


def test_repeated_wrong_passwords_lock_the_login(
    console: Console, console_server: ServerUnderTest, screenshot: Any
) -> None:
    page = console.page
    console.open("/login")
    # The browser asks for Chinese; the header's switch turns this session to English.
    expect(page.locator("main h1")).to_have_text(t("Log in"))
    page.locator("header .languages").get_by_role("link", name="English").click()
    expect(page.locator("main h1")).to_have_text(t("Log in", "en"))
    assert console.path() == "/login"
    for attempt in range(LOGIN_MAX_FAILURES):
        console.log_in("admin", f"Wrong-pass-{attempt}")
        assert console.path() == "/login"
        assert console.error_text() == t(LOGIN_FAILED, "en")
    # Locked out: now even the right password gets the refusal, which says to wait.
    console.log_in("admin", initial_password(console_server))
    assert console.path() == "/login"
    message = console.error_text()
    assert message == t(LOGIN_FAILED, "en") and "wait" in message, message
    expect(page.locator("input[name=name]")).to_have_value("admin")
    screenshot(page, "04-login-locked-en")
    console.open("/hosts")
    assert console.path() == "/login"


def api_results(server: ServerUnderTest, token: str, agent: AgentUnderTest) -> list[Any]:
    answer = server.api(token, "GET", f"/api/v1/hosts/{agent.agent_id}/results")
    assert answer.status == 200, answer.body
    body = answer.json()
    return list(body["results"] if isinstance(body, dict) else body)


def _row_for(page: Page, hostname: str) -> Any:
    return page.locator("main table tbody tr").filter(
        has=page.get_by_role("link", name=hostname, exact=True)
    )


def test_hosts_and_host_pages_show_a_live_scan_of_this_machine(
    console: Console, console_server: ServerUnderTest, tmp_path: Path, screenshot: Any
) -> None:
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(console_server.create_token())
    # A real scan of this machine, once: the page can then be compared with a stable result.
    agent.tune(scan_interval_seconds=3600)
    agent.start()
    try:
        page = console.page
        console.first_admin()
        hostname = socket.gethostname()

        def online_with_results() -> bool:
            console.open("/hosts")
            row = _row_for(page, hostname)
            if row.count() != 1:
                return False
            state = row.locator("td.col-state").inner_text()
            last_seen = row.locator("td.col-optional").first.inner_text()
            return state == t("online") and last_seen != t("never")

        wait_for("the host online on the hosts page", online_with_results, timeout=120)
        # Wait for the first scan, then read the page that shows it.
        api = console_server.api_token()
        wait_for(
            "the first scan's results", lambda: api_results(console_server, api, agent), timeout=180
        )
        console.open("/hosts")
        expect(page.locator("main h1")).to_have_text(f"{t('Hosts')} (1)")
        row = _row_for(page, hostname)
        failing_cell = row.locator("td.num")
        failing = int(failing_cell.inner_text())
        if failing:
            expect(failing_cell).to_have_class(re.compile(r"\bfail\b"))
        assert_styled(page)
        screenshot(page, "05-hosts")

        row.get_by_role("link", name=hostname).click()
        page.wait_for_load_state()
        assert console.path() == f"/hosts/{agent.agent_id}"
        expect(page.locator("main h1")).to_have_text(hostname)
        expect(page.locator("main")).to_contain_text(t("online"))
        results = page.locator("main table.results > tbody > tr")
        status_cells = results.locator("td[data-status]")
        statuses = [cell.get_attribute("data-status") for cell in status_cells.all()]
        assert statuses, "no results on the host page"
        assert set(statuses) <= {"pass", "fail", "error", "not_applicable", "no_privilege"}
        # Shown in words of the console's language, not as the stored ids.
        # A check for another platform only (a Windows check on this Linux host) reads "not for
        # this platform" (its data-reason says so).
        reasons = [cell.get_attribute("data-reason") for cell in status_cells.all()]
        shown = [text.strip() for text in status_cells.all_inner_texts()]
        assert shown == [
            t("not for this platform") if reason == "platform" else t(STATUS_WORDS[status])
            for status, reason in zip(statuses, reasons, strict=True)
        ], shown
        # The count on the hosts page is the number of failing checks on the host page (one
        # check may fail for several resources: docs/console.md, "Compliance").
        ids = results.locator("td:nth-child(1) code").all_inner_texts()
        failing_checks = {
            check for check, status in zip(ids, statuses, strict=True) if status == "fail"
        }
        assert len(failing_checks) == failing, (statuses, failing)
        # Worst first.
        assert statuses[: statuses.count("fail")] == ["fail"] * statuses.count("fail")
        # Every row names a known check, its rules and its evidence.
        known = {entry["id"] for entry in registry_catalog()}
        for check_id in results.locator("td:nth-child(1) code").all_inner_texts():
            assert check_id in known, check_id
        for rules in results.locator("td:nth-child(7)").all_inner_texts():
            assert re.fullmatch(r"[A-Z]\d+(, [A-Z]\d+)*", rules), rules
        # Evidence is folded away until asked for; opened, it is the stored JSON object.
        evidence = results.locator("td.evidence details")
        assert evidence.count() > 0
        expect(evidence.first.locator("pre")).to_be_hidden()
        evidence.first.locator("summary").click()
        expect(evidence.first.locator("pre")).to_be_visible()
        for text in evidence.locator("pre").all_text_contents():
            assert isinstance(json.loads(text), dict), text
        # Inventory: what the agent found about this machine, in a table of its own.
        row = page.locator("main table.inventory > tbody > tr[data-key=hostname]")
        expect(row.locator("> th")).to_have_text(t("Host name"))
        expect(row.locator("> td")).to_have_text(hostname)
        assert page.locator("table.inventory tr[data-key=os] > td").inner_text().strip()
        addresses = page.locator("table.inventory table.addresses > tbody > tr").all_inner_texts()
        assert any("127.0.0.1/8" in address for address in addresses), addresses
        assert_styled(page)
        screenshot(page, "06-host")
    finally:
        agent.stop()


def _small_host_tree(root: Path) -> Path:
    etc = root / "etc"
    etc.mkdir(parents=True)
    for name in ("passwd", "group", "os-release", "login.defs"):
        (etc / name).write_bytes((Path("/etc") / name).read_bytes())
    return root


def test_scan_now_on_the_host_page_brings_a_new_scan(
    console: Console, console_server: ServerUnderTest, tmp_path: Path
) -> None:
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(console_server.create_token())
    # It scans on its own once an hour: a second scan can only come from the button.
    agent.tune(scan_interval_seconds=3600, scan_root=str(_small_host_tree(tmp_path / "tree")))
    agent.start()
    try:
        page = console.page
        console.first_admin()

        def inventory_time() -> str | None:
            console.open(f"/hosts/{agent.agent_id}")
            stamp = page.locator("main .inventory-observed")
            return stamp.inner_text() if stamp.count() else None

        before = wait_for("the first scan on the host page", inventory_time)
        # The page shows the scan's time to the second, and on a quick machine the requested
        # scan came within the first scan's second (both at 11:21:37 in one run): the button is
        # pressed in a later second than the one the first scan was seen in.
        seen = int(time.time())
        while int(time.time()) <= seen:
            time.sleep(0.05)
        page.get_by_role("button", name=t("Scan now")).click()
        page.wait_for_load_state()
        expect(page.locator("main .notice")).to_have_text(t("A scan was requested."))
        wait_for(
            "a newer scan on the host page",
            lambda: (now := inventory_time()) is not None and now != before,
        )
    finally:
        agent.stop()


def test_forms_without_the_csrf_token_are_refused(
    console: Console, console_server: ServerUnderTest, screenshot: Any
) -> None:
    page = console.page
    first = initial_password(console_server)
    console.open("/login")
    console.log_in("admin", first)
    assert console.path() == "/password"

    # A person's form with the hidden token taken out of the page: refused, nothing changes.
    page.locator("main input[name=csrf_token]").evaluate("field => field.remove()")
    assert page.locator("main input[name=csrf_token]").count() == 0
    console.change_password(first, NEW_PASSWORD)
    expect(page.locator("main h1")).to_contain_text(t("Request refused"))
    assert console.error_text() == t(CSRF_REFUSED)
    assert "CSRF" in t(CSRF_REFUSED)
    screenshot(page, "07-csrf-refused")
    console.open("/hosts")
    assert console.path() == "/password"  # the password was not changed

    # The same POSTs sent by script from the page (the browser's cookie and TLS trust; the
    # Node side of Playwright's request context knows nothing of the product's CA).
    form = {"current_password": first, "new_password": NEW_PASSWORD}
    form["confirm_password"] = NEW_PASSWORD
    for path, fields in (
        ("/password", form),
        ("/password", {**form, "csrf_token": "not-the-token"}),
        ("/logout", {}),
    ):
        status = page.evaluate(POST_FROM_PAGE, {"path": path, "fields": fields})
        assert status == 400, (path, fields, status)
    # Still logged in (the logout was refused) and still made to change the password.
    console.open("/hosts")
    assert console.path() == "/password"
    console.change_password(first, NEW_PASSWORD)
    assert console.path() == "/"
