"""Page monitors as people use them: Chromium (Chinese) against a real ``xunjian server run``
(two worker processes, each with its monitor scheduler) watching a real web server on
loopback (tests/monitors/site.py).

The first admin adds a monitor for the school's home page in the console and sees it up, with
its uptime and the 24-hour chart. The test defaces the page; the console shows the tamper
alert (on the monitor and on the Alerts page) and a readable diff of baseline -> now. The
admin proposes the changed page as the new baseline and cannot approve it: no button, and a
hand-made approval POST is refused (403, in the operation log). An operator, a second person,
approves it (POLICY.md E9): the baseline is replaced and the tamper alert resolved.

Screenshots: test-artifacts/screenshots/monitors-*.png (the paths are printed). Runs on SQLite
and, with XUNJIAN_TEST_DATABASE_URL, on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import first_admin_page, first_login
from tests.console_text import text as t
from tests.harness import ServerUnderTest, parse_printed_secret, run_cli, wait_for
from tests.monitors.site import DEFACED, Site, home

ADMIN_PASSWORD = "Monitors-admin-2026"
OPERATOR_PASSWORD = "Monitors-oper-2026"
PAGE_NAME = "示范学校首页"
# Runs in the page: the approve form the console does not show to the proposer, posted with
# the page's own CSRF token, as a person with the browser's developer tools could.
POST_APPROVAL = """action => {
    const form = document.createElement("form");
    form.method = "post";
    form.action = action;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrf_token";
    token.value = document.querySelector("input[name=csrf_token]").value;
    form.appendChild(token);
    document.body.appendChild(form);
    form.submit();
}"""


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    running.serve("/", home())
    yield running
    running.close()


def reload_until(page: Page, what: str, condition: Any, timeout: float = 90) -> None:
    """Reload the page until ``condition()`` holds: the server's scheduler, not the test,
    decides when a check runs (every 5 s here)."""

    def holds() -> bool:
        page.reload()
        return bool(condition())

    wait_for(what, holds, timeout=timeout, interval=1)


# The site runs on 127.0.0.1: allowed as an admin allows a network (docs/monitors.md).
@pytest.mark.server_config(monitor_allowed_networks=["127.0.0.0/8"])
def test_a_defaced_page_is_seen_and_its_new_baseline_needs_two_people(
    browser: Any, console_server: ServerUnderTest, site: Site, screenshot: Any
) -> None:
    server = console_server
    shots: list[Path] = []
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    initial = (server.data / "initial-admin-password").read_text().strip()
    first_login(page, server, "admin", initial, ADMIN_PASSWORD)

    # The admin adds the page in the console; its baseline is taken at once.
    with page.expect_navigation():
        page.locator("header nav").get_by_role("link", name=t("Monitors")).click()
    assert page.url == server.url + "/monitors"
    form = page.locator('section.mon-form form[action="/monitors"]')
    form.locator("input[name=url]").fill(site.url())
    form.locator("input[name=name]").fill(PAGE_NAME)
    form.locator("input[name=interval_seconds]").fill("5")
    form.locator("textarea[name=volatile_selectors]").fill("#counter\n.updated")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    match = re.fullmatch(re.escape(server.url) + r"/monitors/(\d+)\?saved=1", page.url)
    assert match is not None, page.url
    monitor_id = int(match.group(1))
    detail = f"/monitors/{monitor_id}"
    expect(page.locator("main .notice")).to_have_text(t("Saved."))
    expect(page.locator("main h1")).to_have_text(PAGE_NAME)
    expect(page.locator(".mon-facts .mon-page")).to_have_text(site.url())
    shots.append(screenshot(page, "monitors-01-added"))

    # The server checks it every 5 s: up, 100 % over 24 hours, green bars in the chart.
    facts = page.locator("table.mon-facts")
    reload_until(
        page,
        "two good checks",
        lambda: page.locator("table.mon-results tbody tr td.pass").count() >= 2,
    )
    expect(facts.locator(".mon-state-up")).to_have_text(t("up"))
    expect(facts).to_contain_text("100.00%")
    expect(facts.locator("svg.mon-chart rect.mon-bar-up").first).to_be_visible()
    expect(page.locator("main")).to_contain_text(t("The page matches its baseline."))
    with page.expect_navigation():
        page.locator("main").get_by_role("link", name=t("Monitors")).first.click()
    row = page.locator("table.mon-table tbody tr", has_text=PAGE_NAME)
    expect(row.locator(".mon-state-up")).to_have_text(t("up"))
    expect(row.locator("td.mon-number").first).to_have_text("100.00%")
    expect(row.locator("svg.mon-chart rect.mon-bar-up").first).to_be_visible()
    shots.append(screenshot(page, "monitors-02-up"))

    # The page is defaced: a tamper alert, and the change as a readable diff.
    site.serve("/", DEFACED)
    page.goto(server.url + detail)
    reload_until(page, "the tamper alert", lambda: page.locator(".mon-facts .mon-alert").count())
    # One open alert, named in the person's language as the Alerts page names it.
    expect(facts.locator(".mon-alert")).to_have_count(1)
    expect(facts.locator('.mon-alert[data-kind="tamper"]')).to_have_text(t("page tampered"))
    diff = page.locator("pre.mon-diff").first
    expect(diff).to_contain_text("+Hacked by Anonymous")
    expect(diff).to_contain_text("-欢迎访问示范学校网站。Welcome to the Example School.")
    expect(diff).to_contain_text("-示范学校 Example School")  # the old title
    shots.append(screenshot(page, "monitors-03-tampered"))

    with page.expect_navigation():
        page.locator("header nav").get_by_role("link", name=t("Alerts")).click()
    alert_row = page.locator("table.alerts-list tbody tr", has_text=t("page tampered"))
    expect(alert_row).to_have_count(1)
    expect(alert_row).to_contain_text(site.url())
    expect(alert_row).to_contain_text("differs from its baseline")
    with page.expect_navigation():
        alert_row.locator("td a").first.click()
    message = page.locator("table.alerts-facts pre")
    expect(message).to_contain_text(re.compile(r"defacement words: .*hacked by"))
    expect(message).to_contain_text("+Hacked by Anonymous")
    shots.append(screenshot(page, "monitors-04-tamper-alert"))

    # The admin proposes the changed page as the new baseline...
    page.goto(server.url + detail)
    propose = page.locator(f'form[action="{detail}/propose"]')
    propose.locator("input[name=note]").fill("网站改版，内容已由办公室确认")
    with page.expect_navigation():
        propose.locator("button[type=submit]").click()
    proposal = page.locator("section.mon-proposal-pending")
    expect(proposal).to_have_count(1)
    expect(proposal).to_contain_text("admin")
    expect(proposal).to_contain_text("网站改版，内容已由办公室确认")
    expect(proposal.locator("pre.mon-diff")).to_contain_text("+Hacked by Anonymous")
    # ...and is offered no approval of their own proposal.
    expect(proposal.locator('form[action$="/approve"]')).to_have_count(0)
    expect(proposal).to_contain_text(t("You proposed this; someone else must approve it."))
    shots.append(screenshot(page, "monitors-05-proposed"))
    proposal_id = int(proposal.inner_text().split("#", 1)[1].split(" ", 1)[0])
    approve = f"{detail}/proposals/{proposal_id}/approve"

    # Posting the approval by hand is refused by the server too.
    with page.expect_navigation() as refused:
        page.evaluate(POST_APPROVAL, approve)
    assert refused.value is not None and refused.value.status == 403
    expect(page.locator("main .error")).to_have_text(
        t("A changed page needs two people: someone other than the proposer approves it.")
    )
    shots.append(screenshot(page, "monitors-06-self-approval-refused"))
    page.goto(server.url + detail)
    expect(page.locator("section.mon-proposal-pending")).to_have_count(1)
    expect(facts.locator(".mon-alert")).to_have_count(1)  # still open: nothing was approved
    context.close()

    # A second person, an operator, approves it.
    words = ["server", "user", "add", "--data", str(server.data), "olga", "--role", "operator"]
    added = run_cli(*words)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    first_login(page, server, "olga", parse_printed_secret(added.stdout), OPERATOR_PASSWORD)
    page.goto(server.url + detail)
    pending = page.locator("section.mon-proposal-pending")
    expect(pending).to_contain_text("网站改版")
    with page.expect_navigation():
        pending.locator(f'form[action="{approve}"] button[type=submit]').click()
    decided = page.locator("section.mon-proposal-approved", has_text=f"#{proposal_id}")
    expect(decided).to_contain_text("olga")
    expect(page.locator("section.mon-proposal-pending")).to_have_count(0)
    facts = page.locator("table.mon-facts")
    expect(facts).to_contain_text("admin + olga")
    expect(facts.locator(".mon-alert")).to_have_count(0)
    expect(page.locator("main")).to_contain_text(t("The page matches its baseline."))
    shots.append(screenshot(page, "monitors-07-approved"))
    context.close()

    # The record: the alert was resolved by the approver; proposal, refusal and approval are
    # in the operation log with the people who did them.
    token = server.api_token()
    alerts = server.api(token, "GET", "/api/v1/alerts?status=resolved").json()["alerts"]
    [tamper] = [alert for alert in alerts if alert["kind"] == "tamper"]
    assert tamper["resolved_by"] == "olga", tamper
    entries = server.api(token, "GET", "/api/v1/oplog?limit=1000").json()["entries"]
    done = [
        (entry["action"], entry["actor"], entry["outcome"])
        for entry in entries
        if entry["action"].startswith(("monitor.baseline.", "monitors."))
    ]
    assert ("monitor.baseline.propose", "admin", "ok") in done, done
    assert ("monitor.baseline.approve", "olga", "ok") in done, done
    assert ("monitors.decide", "admin", "refused") in done, done
    assert "Traceback" not in server.log(), server.log()[-3000:]
    print("\nscreenshots:", *[str(shot) for shot in shots], sep="\n  ")


@pytest.mark.server_config(monitor_allowed_networks=["127.0.0.0/8"])
def test_a_defaced_page_that_lost_its_required_keyword_shows_both_failures(
    browser: Any, console_server: ServerUnderTest, site: Site, screenshot: Any
) -> None:
    """Issue 13 item 1: with a required keyword, a defacement used to read as "down" with "the
    page matches its baseline" and no tamper alert. Both failures show, each by its name."""
    server = console_server
    page = first_admin_page(browser, server, ADMIN_PASSWORD)
    page.goto(server.url + "/monitors")
    form = page.locator('section.mon-form form[action="/monitors"]')
    form.locator("input[name=url]").fill(site.url())
    form.locator("input[name=name]").fill(PAGE_NAME)
    form.locator("input[name=interval_seconds]").fill("5")
    form.locator("input[name=keyword]").fill("欢迎访问")
    form.locator("textarea[name=volatile_selectors]").fill("#counter\n.updated")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    detail = page.url.split("?", 1)[0]
    facts = page.locator("table.mon-facts")
    reload_until(
        page, "a good check", lambda: page.locator("table.mon-results td.pass").count() >= 1
    )

    site.serve("/", DEFACED)
    page.goto(detail)
    reload_until(
        page, "the tamper alert", lambda: facts.locator('.mon-alert[data-kind="tamper"]').count()
    )
    expect(facts.locator('.mon-alert[data-kind="tamper"]')).to_have_text(t("page tampered"))
    expect(facts).to_contain_text("keyword '欢迎访问' missing")
    expect(page.locator("main")).not_to_contain_text(t("The page matches its baseline."))
    expect(page.locator("pre.mon-diff").first).to_contain_text("+Hacked by Anonymous")
    screenshot(page, "monitors-keyword-and-tamper")
    page.context.close()


@pytest.mark.server_config(monitor_allowed_networks=["127.0.0.0/8"])
def test_an_address_without_a_scheme_comes_back_on_the_form_offered_with_https(
    browser: Any, console_server: ServerUnderTest, site: Site
) -> None:
    """Issue 13 item 7: a person types the address as people write it; the form comes back
    (not a bare error page) with the reason beside the field in Chinese, what they typed kept,
    and the address offered with https://. Correcting it to the test site's http:// address
    saves the monitor."""
    page = first_admin_page(browser, console_server, ADMIN_PASSWORD)
    page.goto(console_server.url + "/monitors")
    form = page.locator("form#add-monitor")
    form.locator("input[name=url]").fill("www.school.edu.cn")
    form.locator("input[name=name]").fill(PAGE_NAME)
    form.locator("input[name=keyword]").fill("欢迎")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    form = page.locator("form#add-monitor")
    url_field = form.locator("input[name=url]")
    expect(url_field).to_have_value("https://www.school.edu.cn")
    expect(url_field).to_have_attribute("aria-invalid", "true")
    expect(form.locator("#error-url")).to_have_text(
        t(
            "An address starts with http:// or https://. It now reads %(url)s: "
            "check it and save again."
        )
        % {"url": "https://www.school.edu.cn"}
    )
    expect(form.locator("#error-url")).to_be_visible()
    expect(form.locator("input[name=name]")).to_have_value(PAGE_NAME)
    expect(form.locator("input[name=keyword]")).to_have_value("欢迎")
    expect(page.locator("header nav")).to_be_visible()

    url_field.fill(site.url())
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert re.search(r"/monitors/\d+\?saved=1$", page.url), page.url
    expect(page.locator("main h1")).to_have_text(PAGE_NAME)
    page.context.close()
