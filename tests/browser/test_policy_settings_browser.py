"""Policy settings as an administrator uses them: Chromium against a real ``xunjian server
run``, a signed (simulated) agent fetching the policy the pages saved, and a webhook receiver
on 127.0.0.1 for the channel's test message.

Screenshots: ``test-artifacts/screenshots/policy-settings-*.png`` (the folder is printed).
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_console_browser import (
    NEW_PASSWORD,
    Console,
    console,
    initial_password,
    t,
)
from tests.harness import ServerUnderTest, SimulatedAgent, enroll_simulated, option_value
from tests.server.test_policy_settings import SECRET, Receiver, receiver
from xunjian.core.contract import PATH_POLICY

__all__ = ["console", "receiver"]  # fixtures, used by name


def fetch_policy(server: ServerUnderTest, agent: SimulatedAgent) -> dict[str, Any]:
    answer = server.request("GET", PATH_POLICY, None, agent.signed("GET", PATH_POLICY, b""))
    assert answer.status == 200, answer.body
    return answer.json()


def test_an_admin_changes_a_parameter_and_an_approved_list(
    console: Console, console_server: ServerUnderTest, screenshot: Any, receiver: Receiver
) -> None:
    print(f"\nscreenshots in {SCREENSHOTS}")
    agent = enroll_simulated(
        console_server, option_value(console_server.create_token(), "--token"), "pc-101"
    )
    assert fetch_policy(console_server, agent)["version"] == 1
    page = console.page
    # The first admin, past the forced password change (where the console lands next is the
    # dashboard's business, not this test's).
    console.open("/")
    console.log_in("admin", initial_password(console_server))
    assert console.path() == "/password", page.content()
    console.change_password(initial_password(console_server), NEW_PASSWORD)
    assert not console.path().startswith("/password"), page.content()

    console.open("/settings/groups")
    expect(page.locator("tr[data-group=default] td").nth(1)).to_have_text("1")  # one host
    screenshot(page, "policy-settings-01-groups")
    page.locator("tr[data-group=default] a").first.click()
    page.wait_for_load_state()
    assert console.path() == "/settings/groups/1"

    # A check parameter and a check switched off, saved with the page's own form.
    max_days = page.locator('input[name="p.accounts.password_age.max_days"]')
    expect(max_days).to_have_value("90")
    max_days.fill("45")
    page.locator('input[name="e.ssh.root_login"]').uncheck()
    page.locator(".ps-actions button", has_text=t("Save policy")).click()
    page.wait_for_load_state()
    expect(page.locator("main .notice")).to_have_text(
        t("Saved. The group's hosts fetch the new policy at their next heartbeat.")
    )
    expect(page.locator("h1 small")).to_contain_text("策略版本 2")
    expect(max_days).to_have_value("45")
    screenshot(page, "policy-settings-02-group-saved")

    # A value the server refuses: the page says which field, and nothing changes.
    ports = page.locator('textarea[name="p.services.listening.approved_tcp_ports"]')
    ports.fill("22\nssh")
    page.locator(".ps-actions button", has_text=t("Save policy")).click()
    page.wait_for_load_state()
    expect(page.locator('[data-error="services.listening.approved_tcp_ports"]')).to_be_visible()
    expect(page.locator(".ps-errors code")).to_have_text("services.listening.approved_tcp_ports")
    screenshot(page, "policy-settings-03-refused")

    # The approved lists.
    console.open("/settings/groups/1/approved")
    page.locator('textarea[name="users"]').fill("alice\nbob\nDOMAIN\\carol")
    page.locator('textarea[name="software"]').fill("openssh-server\nlib*")
    page.locator("main button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("main .notice")).to_be_visible()
    expect(page.locator('textarea[name="users"]')).to_have_value("DOMAIN\\carol\nalice\nbob")
    screenshot(page, "policy-settings-04-approved")

    # What the agent now receives, signed, from the real server.
    policy = fetch_policy(console_server, agent)
    assert policy["version"] == 3
    assert policy["checks"]["accounts.password_age"]["params"]["max_days"] == 45
    assert policy["checks"]["ssh.root_login"]["enabled"] is False
    assert policy["checks"]["services.listening"]["params"]["approved_tcp_ports"] == [22]
    assert policy["approved"]["users"] == ["DOMAIN\\carol", "alice", "bob"]
    assert policy["checks"]["accounts.unapproved"]["params"]["approved"] == [
        "DOMAIN\\carol",
        "alice",
        "bob",
    ]

    # A channel with a secret, its test message through the real notifier, and the roster.
    console.open("/settings/channels/new?kind=webhook")
    page.locator('input[name="name"]').fill("it-hook")
    page.locator('input[name="s.url"]').fill(receiver.url)
    page.locator('input[name="s.allow_http"]').check()
    page.locator('input[name="s.secret"]').fill(SECRET)
    page.locator("form.ps-channel button[type=submit]").click()
    page.wait_for_load_state()
    assert console.path().startswith("/settings/channels/it-hook"), console.path()
    expect(page.locator('[data-setting="secret"] .ps-secret-state')).to_have_attribute(
        "data-set", "yes"
    )
    page.locator(".ps-actions button", has_text=t("Send a test message")).click()
    page.wait_for_load_state()
    expect(page.locator(".ps-trial")).to_have_attribute("data-ok", "yes")
    assert SECRET not in page.content()
    screenshot(page, "policy-settings-05-channel-tested")
    [(headers, body)] = receiver.requests
    assert json.loads(body)["alert"]["title"]["zh"] == "巡检测试消息"
    assert "X-Xunjian-Signature" in headers

    console.open("/settings/roster")
    page.locator('textarea[name="t0.people"]').fill("王老师, +86 138 0013 8000")
    page.locator('input[name="t0.channels"][value="it-hook"]').check()
    page.locator("form.ps-roster-form > button[type=submit]").click()
    page.wait_for_load_state()
    expect(page.locator("main .notice")).to_be_visible()
    expect(page.locator('textarea[name="t0.people"]')).to_have_value("王老师, +86 138 0013 8000")
    screenshot(page, "policy-settings-06-roster")
    console.open("/settings/channels")
    expect(page.locator("tr[data-channel=it-hook] td").nth(3)).to_have_text("1")
    assert SECRET not in page.content()
    screenshot(page, "policy-settings-07-channels")
