"""The console's side of monitors run by an agent: the form offers the enrolled agents (not the
revoked ones), the monitor's page says which agent runs it, in English and Chinese, and a
bad choice is refused without a change."""

from __future__ import annotations

import re

from server.store.agents import revoke_agent
from tests.console_text import text
from tests.monitors.helpers import monitor
from tests.monitors.site import Site
from tests.monitors.test_console import form, page, person
from tests.server.conftest import Server


def test_choosing_the_agent_that_runs_a_monitor(server: Server, site: Site) -> None:
    inside = server.enroll("intranet-gw")
    gone = server.enroll("old-pc")
    with server.state.sessions() as session:
        revoke_agent(session, gone.agent_id)
        session.commit()
    olga = person(server, "olga", "operator")
    audrey = person(server, "audrey", "auditor")

    listing = page(olga, "/monitors")
    assert f'<option value="{inside.agent_id}">' in listing
    assert gone.agent_id not in listing
    assert 'name="agent_id"' not in page(audrey, "/monitors")

    refused = form(olga, "/monitors", "/monitors", url=site.url(), agent_id="not-an-agent")
    assert refused.status_code == 400
    refused = form(olga, "/monitors", "/monitors", url=site.url(), agent_id=gone.agent_id)
    assert refused.status_code == 400
    assert "No monitors yet." in page(olga, "/monitors")

    added = form(
        olga, "/monitors", "/monitors", url=site.url(), name="Intranet", agent_id=inside.agent_id
    )
    assert added.status_code == 303
    monitor_id = int(re.search(r"/monitors/(\d+)", added.headers["Location"]).group(1))
    assert monitor(server, monitor_id)["agent_id"] == inside.agent_id
    assert site.hits == 0  # the server did not fetch the page

    detail = page(audrey, f"/monitors/{monitor_id}")
    assert "run by agent intranet-gw" in detail and inside.agent_id in detail
    chinese = page(audrey, f"/monitors/{monitor_id}", "zh-CN")
    assert text("run by agent %(name)s") % {"name": "intranet-gw"} in chinese
    assert "run by agent intranet-gw" in page(olga, "/monitors")

    # The settings form keeps the agent, and can hand the page back to the server.
    settings = page(olga, f"/monitors/{monitor_id}")
    assert f'<option value="{inside.agent_id}" selected>' in settings
    moved = form(
        olga,
        f"/monitors/{monitor_id}",
        f"/monitors/{monitor_id}",
        url=site.url(),
        name="Intranet",
        interval_seconds="300",
        enabled="on",
        follow_redirects="on",
        tamper_enabled="on",
        agent_id="",
    )
    assert moved.status_code == 303
    moved_back = monitor(server, monitor_id)
    assert moved_back["run_by"] == {"kind": "server"} and moved_back["enabled"]
    assert text("the server") in page(audrey, f"/monitors/{monitor_id}", "zh-CN")
