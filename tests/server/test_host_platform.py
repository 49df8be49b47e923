"""A host's platform end to end inside the server: a scan report's ``platform`` (the scanned
host's system: an agent on Linux may scan a mounted Windows volume) lands on the agent's row
through intake, and the REST API, hosts list, host page, check page and dashboard show it; a
network device's row and newer reports are never overwritten. On both databases."""

from __future__ import annotations

import datetime
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from server.store.models import DEVICE_PLATFORM, Agent
from tests.server.conftest import Server, SignedAgent
from tests.server.test_fleet import host_ids, page, person, results

WINDOWS = {"name": "windows", "os": "Windows 10 Pro", "version": "22H2", "build": "19045.2130"}
DEBIAN = {"name": "linux", "os": "Debian GNU/Linux 12", "version": "12", "build": "6.1.0-28"}


@pytest.fixture
def admin(server: Server) -> FlaskClient:
    return person(server, "admin", "admin")


def _when(days_ago: float) -> str:
    moment = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=days_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _send(agent: SignedAgent, platform: dict[str, str] | None, **changes: Any) -> None:
    document = agent.report(**changes)
    if platform is not None:
        document["platform"] = platform
    answer = agent.send_report(document)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def _row(server: Server, agent_id: str) -> tuple[str, str, str, str]:
    with server.state.sessions() as session:
        row = session.execute(
            select(Agent.platform, Agent.os, Agent.os_version, Agent.os_build).where(
                Agent.id == agent_id
            )
        ).one()
    return tuple(row)  # type: ignore[return-value]


def test_a_reports_platform_becomes_the_hosts(server: Server, agent: SignedAgent) -> None:
    assert _row(server, agent.agent_id)[0] == "linux"  # as enrolled
    _send(agent, WINDOWS, created_at=_when(1))
    assert _row(server, agent.agent_id) == ("windows", "Windows 10 Pro", "22H2", "19045.2130")

    # A report without one (an older agent, or one whose inventory failed) changes nothing.
    _send(agent, None, created_at=_when(0.5))
    assert _row(server, agent.agent_id)[0] == "windows"

    # A report made before the newest one (it waited in a spool) does not turn the host back.
    _send(agent, DEBIAN, created_at=_when(3))
    assert _row(server, agent.agent_id)[0] == "windows"
    _send(agent, DEBIAN, created_at=_when(0))
    assert _row(server, agent.agent_id) == ("linux", "Debian GNU/Linux 12", "12", "6.1.0-28")


def test_a_devices_row_keeps_device(server: Server, agent: SignedAgent) -> None:
    with server.state.sessions() as session:
        session.execute(
            update(Agent).where(Agent.id == agent.agent_id).values(platform=DEVICE_PLATFORM)
        )
        session.commit()
    _send(agent, DEBIAN)
    assert _row(server, agent.agent_id)[0] == DEVICE_PLATFORM


def test_a_malformed_platform_is_refused_with_its_place(server: Server, agent: SignedAgent) -> None:
    for bad, place in (
        ({**WINDOWS, "name": "Windows"}, "platform.name"),
        ({**WINDOWS, "build": "1" * 65}, "platform.build"),
        ({**WINDOWS, "edition": "Pro"}, "platform"),
    ):
        document = agent.report()
        document["platform"] = bad
        answer = agent.send_report(document)
        assert answer.status_code == 400, bad
        assert place in answer.get_data(as_text=True)
    assert _row(server, agent.agent_id)[0] == "linux"


def test_the_rest_api_and_console_pages_show_the_platform(
    server: Server, agent: SignedAgent, admin: FlaskClient
) -> None:
    """The hosts list filters by platform; the host page names the OS and build and reads
    a Linux-only check's not_applicable as *not for this platform*; the check page counts its
    hosts per platform; the dashboard counts hosts per platform."""
    linux = server.enroll("debian-1")
    _send(linux, DEBIAN, results=results(("accounts.uid0_extra", "pass")))
    _send(
        agent,
        WINDOWS,
        results=results(
            ("accounts.uid0_extra", "not_applicable"),
            ("firewall.windows_profiles", "fail"),
        ),
    )
    body = page(admin, "/hosts?platform=windows")
    assert host_ids(body) == [agent.agent_id]
    assert 'data-platform="windows"' in body and "19045.2130" in body
    assert host_ids(page(admin, "/hosts?platform=linux")) == [linux.agent_id]
    page(admin, "/hosts?platform=solaris", status=400)

    body = page(admin, f"/hosts/{agent.agent_id}")
    assert "Windows 10 Pro 22H2" in body and "build 19045.2130" in body
    cells = re.findall(r'<td class="[^"]*" data-status="(\w+)"( data-reason="platform")?>', body)
    assert ("not_applicable", ' data-reason="platform"') in cells  # accounts.uid0_extra
    assert ("fail", "") in cells
    assert "not for this platform" in body
    # On the Linux host the same check is judged, so no such wording.
    assert "not for this platform" not in page(admin, f"/hosts/{linux.agent_id}")

    body = page(admin, "/checks/accounts.uid0_extra")
    table = body[body.index('class="fleet-status-platforms"') :]
    by_cell = dict(re.findall(r'<tr data-status="(\w+)">(.*?)</tr>', table, re.S))
    assert re.search(r'data-platform="windows">1<', by_cell["not_applicable"])
    assert re.search(r'data-platform="linux">1<', by_cell["pass"])
    assert "fail" not in by_cell

    body = page(admin, "/")
    row = r'<tr data-platform="(\w+)">.*?<td class="num">(\d+)</td>'
    counts = dict(re.findall(row, body, re.S))
    assert counts == {"windows": "1", "linux": "1"}

    zh = page(admin, f"/hosts/{agent.agent_id}", **{"Accept-Language": "zh-CN"})
    assert "不适用于此平台" in zh
