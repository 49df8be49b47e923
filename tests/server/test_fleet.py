"""The fleet pages (server/fleet): dashboard, hosts list, host page, checks, on both databases.

Hosts that report come from signed agents through the real agent API; the larger fleets that
paging needs are written straight into the tables, as intake would have left them."""

from __future__ import annotations

import datetime
import re
import threading
import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

from server.alerts.models import Alert
from server.fleet import store
from server.fleet.jobs import FRESH_SECONDS, REFRESH_SECONDS, local_day, refresh_compliance
from server.fleet.models import ComplianceDaily, SnapshotDay
from server.oplog.models import OplogEntry
from server.store.accounts import create_user
from server.store.agents import get_or_create_group, revoke_agent
from server.store.models import Agent, Inventory, LatestResult, utcnow
from tests.server.conftest import Server, SignedAgent
from tests.server.test_api import api_token
from tests.server.test_console import NEW_PASSWORD, change_password, csrf_from, log_in

ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def person(server: Server, name: str, role: str) -> FlaskClient:
    """A logged-in console user of ``role`` (the first admin for "admin")."""
    client = server.client()
    if name == "admin":
        password = server.admin_password
    else:
        password = f"{name.title()}-pass-2026"
        with server.state.sessions() as session:
            create_user(session, name, role, password)
            session.commit()
    assert log_in(client, name, password) == 302
    assert change_password(client, password, NEW_PASSWORD) == 302
    return client


@pytest.fixture
def admin(server: Server) -> FlaskClient:
    return person(server, "admin", "admin")


def page(client: FlaskClient, path: str, status: int = 200, **headers: str) -> str:
    answer = client.get(path, headers=headers or EN)
    body = answer.get_data(as_text=True)
    assert answer.status_code == status, (path, answer.status_code, body[:2000])
    return body


def host_ids(body: str) -> list[str]:
    return re.findall(r'<tr data-host="([^"]+)"', body)


def results(*pairs: tuple[str, str], resource: str = "host") -> list[dict[str, Any]]:
    return [
        {
            "check_id": check_id,
            "status": status,
            "resource": resource,
            "message": f"{check_id} is {status}",
            "evidence": {"seen": status},
            "rules": ["E4"],
            "severity": "high",
        }
        for check_id, status in pairs
    ]


def report(agent: SignedAgent, *pairs: tuple[str, str], **changes: Any) -> None:
    answer = agent.send_report(agent.report(results=results(*pairs), **changes))
    assert answer.status_code == 200, answer.get_data(as_text=True)


def set_last_seen(server: Server, agent_id: str, moment: datetime.datetime) -> None:
    with server.state.sessions() as session:
        session.execute(update(Agent).where(Agent.id == agent_id).values(last_seen=moment))
        session.commit()


def recount(server: Server) -> None:
    """Count compliance as the server's thread would, past the current lease."""
    with server.state.sessions() as session:
        taken = session.scalar(select(func.max(SnapshotDay.taken_at)))
    now = utcnow()
    if taken is not None:
        now = max(now, taken + datetime.timedelta(seconds=REFRESH_SECONDS + 1))
    assert refresh_compliance(server.state.engine, now, zone=server.state.config.console_timezone)


@pytest.fixture
def fleet(server: Server) -> dict[str, SignedAgent]:
    return make_fleet(server)


def make_fleet(server: Server) -> dict[str, SignedAgent]:
    """Four hosts: two in "office" (one failing), one offline in "lab", one revoked."""
    office_a = server.enroll("office-a", group="office")
    office_b = server.enroll("office-b", group="office")
    lab = server.enroll("lab-1", group="lab")
    gone = server.enroll("gone-1", group="lab")
    report(office_a, ("password.max_age", "fail"), ("firewall.enabled", "pass"))
    report(office_b, ("password.max_age", "pass"), ("firewall.enabled", "pass"))
    report(
        lab,
        ("password.max_age", "fail"),
        ("firewall.enabled", "error"),
        inventory={
            "hostname": "lab-1",
            "os": "Debian GNU/Linux 12",
            "addresses": [
                {"interface": "eth0", "mac": "52:54:00:00:00:01", "ipv4": ["10.9.8.7/24"]}
            ],
        },
    )
    report(gone, ("password.max_age", "fail"))
    set_last_seen(server, lab.agent_id, utcnow() - datetime.timedelta(days=2))
    with server.state.sessions() as session:
        assert revoke_agent(session, gone.agent_id)
        session.commit()
    return {"office-a": office_a, "office-b": office_b, "lab-1": lab, "gone-1": gone}


# --- the dashboard ------------------------------------------------------------------------


def test_login_lands_on_the_dashboard(server: Server) -> None:
    client = server.client()
    token = csrf_from(client, "/login")
    answer = client.post(
        "/login", data={"name": "admin", "password": server.admin_password, "csrf_token": token}
    )
    assert answer.headers["Location"].endswith("/password")
    token = csrf_from(client, "/password")
    answer = client.post(
        "/password",
        data={
            "current_password": server.admin_password,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    body = page(client, "/")
    assert "<h1>Dashboard</h1>" in body
    # The navigation names the three fleet pages, in order.
    nav = re.search(r"<nav>(.*?)</nav>", body, re.S)
    assert nav is not None
    labels = re.findall(r">([^<]+)</a>", nav.group(1))
    assert labels[:3] == ["Dashboard", "Hosts", "Checks"]


def test_dashboard_counts(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    body = page(admin, "/")
    counts = dict(re.findall(r'data-count="(\w+)"><span class="fleet-number[^"]*">([^<]+)<', body))
    assert counts == {
        "online": "2",
        "offline": "1",
        "revoked": "1",
        "isolated": "0",
        "devices": "0",
        "total": "4",
        # Pairs: office-a 1 pass 1 fail, office-b 2 pass, lab-1 1 fail (error counts neither),
        # gone-1 revoked: 3 of 5 pass.
        "compliance": "60.0%",
    }
    rows = dict(re.findall(r'<tr data-group="([^"]+)">.*?data-score="([^"]+)"', body, re.S))
    assert rows == {"default": "-", "lab": "0.0%", "office": "75.0%"}
    # Alerts born in intake: one check_failed per failing result, severity high; the revoked
    # host's alert is open too (revocation does not resolve alerts).
    alerts = re.search(r'<tr data-severity="high">(.*?)</tr>', body, re.S)
    assert alerts is not None
    assert re.findall(r">(\d+)<", alerts.group(1)) == ["3", "0"]
    with server.state.sessions() as session:
        session.execute(update(Alert).values(acknowledged_at=utcnow(), acknowledged_by="admin"))
        session.commit()
    body = page(admin, "/")
    assert 'data-total="open">0<' in body and 'data-total="acknowledged">3<' in body


# The test reads times in Shanghai; the default is the machine's own zone (issue 13 item 6).
@pytest.mark.parametrize("server_settings", [{"console_timezone": "Asia/Shanghai"}])
def test_dashboard_in_chinese_and_times_in_the_console_zone(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    body = page(admin, "/", **ZH)
    assert "<h1>总览</h1>" in body and "各分组合规率" in body
    with server.state.sessions() as session:
        taken = session.scalar(select(func.max(ComplianceDaily.taken_at)))
    assert taken is not None
    shown = (taken.replace(tzinfo=datetime.UTC) + datetime.timedelta(hours=8)).strftime(
        "%Y-%m-%d %H:%M"
    )
    assert f"统计于 {shown}" in body  # Asia/Shanghai, the default console_timezone


def backdate_count(server: Server, seconds: int) -> None:
    """Make the stored count ``seconds`` older, as if the clock had moved on."""
    shift = datetime.timedelta(seconds=seconds)
    with server.state.sessions() as session:
        # Row by row in Python: SQLite keeps times as text, which SQL cannot subtract from.
        rows = [*session.scalars(select(SnapshotDay)), *session.scalars(select(ComplianceDaily))]
        for row in rows:
            row.taken_at -= shift
        session.commit()


def score_of(body: str, group: str) -> str:
    found = re.search(rf'data-group="{group}">.*?data-score="([^"]+)"', body, re.S)
    assert found is not None
    return found.group(1)


def test_compliance_is_current_within_a_minute_of_a_report(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    assert score_of(page(admin, "/"), "lab") == "0.0%"  # the first view of the day counts
    report(fleet["lab-1"], ("password.max_age", "pass"), ("firewall.enabled", "pass"))
    # A burst of reports makes one recount, not one per view: within FRESH_SECONDS of the
    # last count the stored one stays...
    assert score_of(page(admin, "/"), "lab") == "0.0%"
    assert not refresh_compliance(server.state.engine)
    # ...and once the count is older than that (and older than the report), the dashboard
    # shows the new one, long before the lease of fleet_recount_seconds (300 s) runs out.
    backdate_count(server, FRESH_SECONDS + 1)
    assert score_of(page(admin, "/"), "lab") == "100.0%"
    # With no report since, the new count is not due again until the lease ends.
    assert not refresh_compliance(server.state.engine)


def test_group_table_counts_a_host_enrolled_since_the_last_count(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    body = page(admin, "/")
    hosts = re.search(r'data-group="lab">.*?<td class="num">(\d+)<', body, re.S)
    assert hosts is not None and hosts.group(1) == "1"  # lab-1 (gone-1 is revoked)
    server.enroll("lab-2", group="lab")  # no report yet, so no recount is due
    body = page(admin, "/")
    hosts = re.search(r'data-group="lab">.*?<td class="num">(\d+)<', body, re.S)
    assert hosts is not None and hosts.group(1) == "2"


def test_one_count_per_lease_across_processes(
    server: Server, fleet: dict[str, SignedAgent]
) -> None:
    engine = server.state.engine
    now = utcnow()
    outcomes: list[bool] = []
    barrier = threading.Barrier(4)

    def count(name: str) -> None:
        barrier.wait()
        outcomes.append(refresh_compliance(engine, now, who=name))

    threads = [threading.Thread(target=count, args=(f"p{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False, False, False, True]
    with server.state.sessions() as session:
        rows = session.execute(select(ComplianceDaily.day, ComplianceDaily.group_id)).all()
        assert len(rows) == len(set(rows)) == 3  # default, office, lab: one row each
        assert session.scalar(select(func.count()).select_from(SnapshotDay)) == 1
    later = now + datetime.timedelta(seconds=REFRESH_SECONDS + 1)
    assert refresh_compliance(engine, later)
    assert not refresh_compliance(engine, later)
    # The next day starts a new row per group; the old day keeps its last count.
    tomorrow = now + datetime.timedelta(days=1)
    assert refresh_compliance(engine, tomorrow)
    with server.state.sessions() as session:
        days = session.scalars(select(ComplianceDaily.day).distinct()).all()
    assert sorted(days) == [now.date(), tomorrow.date()]


def test_chart_draws_one_point_per_week_with_a_count(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    today = local_day(utcnow(), server.state.config.console_timezone)  # the chart's days
    with server.state.sessions() as session:
        office = get_or_create_group(session, "office").id
        # Two counts in one week four weeks ago (the later one is the week's), one two weeks
        # ago; the weeks between have none.
        monday = today - datetime.timedelta(days=today.weekday(), weeks=4)
        for day, passed in ((monday, 10), (monday + datetime.timedelta(days=3), 30)):
            session.add(
                ComplianceDaily(
                    day=day, group_id=office, hosts=2, passed=passed, failed=10, taken_at=utcnow()
                )
            )
        session.add(
            ComplianceDaily(
                day=monday + datetime.timedelta(weeks=2),
                group_id=office,
                hosts=2,
                passed=5,
                failed=5,
                taken_at=utcnow(),
            )
        )
        session.commit()
    body = page(admin, "/")
    fleet_line = re.search(r'<g class="fleet-line" data-group="">(.*?)</g>', body, re.S)
    assert fleet_line is not None
    titles = re.findall(r"<title>All groups · ([^<]+)</title>", fleet_line.group(1))
    week = monday.isoformat()
    two_later = (monday + datetime.timedelta(weeks=2)).isoformat()
    assert titles[:2] == [f"{week}: 75.0%", f"{two_later}: 50.0%"]
    assert len(titles) == 3  # and this week's, counted at this view
    # A week without a count breaks the line: three runs of one point each.
    assert len(re.findall(r"<polyline", fleet_line.group(1))) == 3
    assert 'data-group="office"' in body and 'data-group="lab"' in body


def test_dashboard_says_when_there_is_no_history(admin: FlaskClient) -> None:
    body = page(admin, "/")
    assert "No data yet" in body
    assert '<td class="num" data-score="-">-</td>' in body  # default group, nothing judged


# --- the hosts list -----------------------------------------------------------------------


def test_hosts_filters(server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]) -> None:
    ids = {name: agent.agent_id for name, agent in fleet.items()}

    def shown(query: str) -> set[str]:
        body = page(admin, "/hosts" + query)
        names = {name for name, agent_id in ids.items() if agent_id in host_ids(body)}
        assert f"({len(names)})</h1>" in body
        return names

    assert shown("") == set(ids)
    assert shown("?group=office") == {"office-a", "office-b"}
    assert shown("?status=online") == {"office-a", "office-b"}
    assert shown("?status=offline") == {"lab-1"}
    assert shown("?status=revoked") == {"gone-1"}
    # Revoked hosts fail nothing any more.
    assert shown("?failing=password.max_age") == {"office-a", "lab-1"}
    assert shown("?failing=firewall.enabled") == set()
    assert shown("?failing=password.max_age&group=lab") == {"lab-1"}
    assert shown("?failing=password.max_age&status=online") == {"office-a"}
    # Search: a part of the host name (any case), the start of the agent id, an IP address.
    assert shown("?q=OFFICE") == {"office-a", "office-b"}
    assert shown("?q=ce-b") == {"office-b"}
    assert shown(f"?q={ids['lab-1'][:8]}") == {"lab-1"}
    assert shown("?q=10.9.8") == {"lab-1"}
    assert shown("?q=10.9.8.7") == {"lab-1"}
    assert shown("?q=10.9.9") == set()
    # LIKE's wildcards are plain characters here.
    assert shown("?q=%25") == set() and shown("?q=_") == set()
    assert shown("?q=office&group=office&status=online&failing=password.max_age") == {"office-a"}


def test_hosts_list_shows_failing_counts_and_keeps_filters_in_links(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    body = page(admin, "/hosts?group=office")
    row = re.search(rf'<tr data-host="{fleet["office-a"].agent_id}">(.*?)</tr>', body, re.S)
    assert row is not None and '<td class="num fail">1</td>' in row.group(1)
    assert '<option value="office" selected>' in body
    assert "Clear the filters" in body
    assert "No host matches these filters." in page(admin, "/hosts?group=default")


def test_hosts_list_sorts_by_a_column_and_shows_address_and_short_id(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    """Issue 13 item 8: a column's header sorts the list (again: the other way); each row shows
    the host's address from its inventory and the start of its id."""

    def order(query: str) -> list[str]:
        body = page(admin, f"/hosts{query}")
        return [
            name
            for agent_id in re.findall(r'<tr data-host="([^"]+)"', body)
            for name, agent in fleet.items()
            if agent.agent_id == agent_id
        ]

    assert order("") == ["gone-1", "lab-1", "office-a", "office-b"]
    assert order("?sort=-name") == ["office-b", "office-a", "lab-1", "gone-1"]
    # lab-1 has not been seen for two days; the others reported just now.
    assert order("?sort=seen")[0] == "lab-1"
    assert order("?sort=-seen")[-1] == "lab-1"
    assert order("?sort=-group") == ["office-a", "office-b", "gone-1", "lab-1"]
    failing_first = order("?sort=-failing&group=office")
    assert failing_first == ["office-a", "office-b"]  # 1 failing check, then 0
    assert order("?sort=failing&group=office") == ["office-b", "office-a"]
    body = page(admin, "/hosts?sort=-failing&group=office")
    assert 'aria-sort="descending"' in body and "sort=failing" in body  # the next click
    lab = fleet["lab-1"].agent_id
    row = re.search(rf'<tr data-host="{lab}">(.*?)</tr>', page(admin, "/hosts"), re.S)
    assert row is not None
    assert '<td class="col-address"><code>10.9.8.7</code></td>' in row.group(1)
    assert f'<small class="host-id" title="{lab}">{lab[:8]}</small>' in row.group(1)
    page(admin, "/hosts?sort=address", status=400)


def test_failing_checks_count_checks_not_resources(server: Server, admin: FlaskClient) -> None:
    # One check failing for two accounts is one failed (host, check) pair: the hosts list
    # counts what the compliance figures count (docs/console.md).
    host = server.enroll("pc-two-accounts")
    two = results(("password.max_age", "fail"), resource="alice")
    two += results(("password.max_age", "fail"), resource="bob")
    answer = host.send_report(host.report(results=two))
    assert answer.status_code == 200
    body = page(admin, "/hosts")
    row = re.search(rf'<tr data-host="{host.agent_id}">(.*?)</tr>', body, re.S)
    assert row is not None and '<td class="num fail">1</td>' in row.group(1)


def add_hosts(server: Server, count: int, group: str = "default") -> list[str]:
    """``count`` hosts written straight into the table, named host-0000, host-0001, ..."""
    now = utcnow()
    with server.state.sessions() as session:
        group_id = get_or_create_group(session, group).id
        ids = [str(uuid.uuid4()) for _ in range(count)]
        session.add_all(
            Agent(
                id=agent_id,
                public_key="A" * 44,
                hostname=f"host-{index:04d}",
                platform="linux",
                group_id=group_id,
                last_seen=now,
            )
            for index, agent_id in enumerate(ids)
        )
        session.commit()
    return ids


def test_paging_boundaries(server: Server, admin: FlaskClient) -> None:
    ids = add_hosts(server, 101)
    first = page(admin, "/hosts")
    assert host_ids(first) == ids[:50]
    assert "Page 1 of 3" in first and 'rel="prev"' not in first
    assert host_ids(page(admin, "/hosts?page=2")) == ids[50:100]
    last = page(admin, "/hosts?page=3")
    assert host_ids(last) == ids[100:]
    assert 'rel="next"' not in last and 'href="/hosts?page=2"' in last
    page(admin, "/hosts?page=4", 404)
    # Exactly one page: no pager at all.
    assert "Page 1 of" not in page(admin, "/hosts?q=host-000")
    # The pager keeps the filters.
    add_hosts(server, 60, group="lab")
    body = page(admin, "/hosts?group=lab&q=host")
    assert 'href="/hosts?q=host&amp;group=lab&amp;page=2"' in body
    # An empty result is one (empty) page, not an error.
    page(admin, "/hosts?q=nothing-like-this")


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=100001",
        "page=" + "9" * 40,
        "status=sleeping",
        "group=no-such-group",
        "group=" + "g" * 65,
        "failing=bad%20check",
        "failing=" + "a" * 129,
        "q=" + "x" * 101,
        "q=tab%09inside",
        "q=nul%00",
    ],
)
def test_bad_input_is_a_400_page(admin: FlaskClient, query: str) -> None:
    body = page(admin, f"/hosts?{query}", 400)
    assert "<h1>" in body and "Traceback" not in body


def test_bad_input_on_the_other_pages(admin: FlaskClient, agent: SignedAgent) -> None:
    page(admin, f"/hosts/{agent.agent_id}?history=0", 400)
    page(admin, f"/hosts/{agent.agent_id}?history=x", 400)
    page(admin, f"/hosts/{agent.agent_id}/oplog?page=-3", 400)
    page(admin, "/checks/password.max_age?page=0", 400)
    page(admin, "/checks/bad%20id", 400)
    page(admin, "/checks/" + "a" * 129, 400)
    page(admin, "/hosts/" + "x" * 37, 404)
    page(admin, f"/hosts/{uuid.uuid4()}", 404)
    page(admin, "/checks/no.such_check", 404)


def test_pages_need_login(server: Server, agent: SignedAgent) -> None:
    for path in ("/", "/hosts", f"/hosts/{agent.agent_id}", "/checks", "/checks/x.y"):
        answer = server.client().get(path)
        assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")


# --- the host page ------------------------------------------------------------------------


def test_host_page_results_failures_first_with_evidence(
    admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    body = page(admin, f"/hosts/{fleet['office-a'].agent_id}")
    statuses = re.findall(r'data-status="(\w+)">', body.split('id="inventory"')[0])
    assert statuses == ["fail", "pass"]
    assert "&#34;seen&#34;: &#34;fail&#34;" in body  # evidence, as JSON
    assert 'href="/checks/password.max_age"' in body


def test_a_failing_result_says_what_to_do_in_the_persons_language(
    server: Server, admin: FlaskClient
) -> None:
    from checks.api import registry_catalog

    [entry] = [e for e in registry_catalog() if e["id"] == "accounts.uid0_extra"]
    host = server.enroll("pc-remedy")
    report(host, ("accounts.uid0_extra", "fail"), ("firewall.host_firewall", "pass"))
    body = page(admin, f"/hosts/{host.agent_id}", **ZH)
    rows = re.findall(r"<tr[^>]*>.*?</tr>", body.split('id="inventory"')[0], re.S)
    failing = [row for row in rows if 'data-status="fail"' in row]
    passing = [row for row in rows if 'data-status="pass"' in row]
    assert failing and passing
    assert "整改建议" in failing[0] and entry["remediation"]["zh"] in failing[0]
    assert 'class="remediation"' not in passing[0]  # nothing to do about a pass


def test_host_history_lists_changes_newest_first_and_pages(
    server: Server, admin: FlaskClient, agent: SignedAgent
) -> None:
    start = utcnow() - datetime.timedelta(days=10)

    def at(hours: int) -> str:
        return (start + datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")

    report(agent, ("a.check", "pass"), ("b.check", "pass"), created_at=at(0))
    report(agent, ("a.check", "pass"), ("b.check", "pass"), created_at=at(1))  # no change
    report(agent, ("a.check", "fail"), ("b.check", "pass"), created_at=at(2))
    report(agent, ("a.check", "pass"), ("b.check", "error"), created_at=at(3))
    body = page(admin, f"/hosts/{agent.agent_id}")
    history = body.split('id="history"')[1]
    rows = re.findall(r'<tr data-check="([^"]+)" data-status="(\w+)">', history)
    assert rows == [
        ("a.check", "pass"),
        ("b.check", "error"),
        ("a.check", "fail"),
        ("a.check", "pass"),
        ("b.check", "pass"),
    ]
    assert history.count("first seen") == 2
    # Older than the history window: not shown.
    report(agent, ("c.check", "fail"), created_at=at(-24 * 40))
    assert "c.check" not in page(admin, f"/hosts/{agent.agent_id}").split('id="history"')[1]
    # Paging: 60 changes of one check make two pages.
    for hour in range(4, 64):
        report(agent, ("a.check", "fail" if hour % 2 == 0 else "pass"), created_at=at(hour))
    first = page(admin, f"/hosts/{agent.agent_id}").split('id="history"')[1]
    assert len(re.findall(r"<tr data-check=", first)) == 50
    assert f"/hosts/{agent.agent_id}?history=2#history" in first
    second = page(admin, f"/hosts/{agent.agent_id}?history=2").split('id="history"')[1]
    assert len(re.findall(r"<tr data-check=", second)) == 60 + 5 - 50
    assert "?history=3" not in second
    page(admin, f"/hosts/{agent.agent_id}?history=9")  # past the end: an empty page


def test_host_operation_log_for_admin_and_auditor_only(
    server: Server, admin: FlaskClient, agent: SignedAgent
) -> None:
    token = csrf_from(admin, f"/hosts/{agent.agent_id}")
    assert (
        admin.post(f"/hosts/{agent.agent_id}/scan-now", data={"csrf_token": token}).status_code
        == 302
    )
    operator = person(server, "olga", "operator")
    auditor = person(server, "audrey", "auditor")
    host_path = f"/hosts/{agent.agent_id}"
    # Enrollment (agent:<id>) and the scan request (host:<id>) name this host.
    assert "Entries that name this host: 2." in page(admin, host_path)
    assert "Entries that name this host: 2." in page(auditor, host_path)
    assert 'id="oplog"' not in page(operator, host_path)
    page(operator, host_path + "/oplog", 403)

    before = oplog_reads(server)
    body = page(auditor, host_path + "/oplog")
    actions = re.findall(r'data-action="([^"]+)"', body)
    assert actions == ["console.command.create", "agent.enroll"]  # newest first
    # Reading it is recorded, and the record does not name the host (or it would list itself).
    reads = oplog_reads(server)
    assert len(reads) == len(before) + 1
    assert reads[-1].actor == "audrey" and reads[-1].target == "oplog"
    assert agent.agent_id in reads[-1].details


def oplog_reads(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(
            session.scalars(
                select(OplogEntry).where(OplogEntry.action == "oplog.read").order_by(OplogEntry.seq)
            )
        )


def test_scan_now_is_recorded_under_its_action_and_roles_hold(
    server: Server, agent: SignedAgent
) -> None:
    operator = person(server, "olga", "operator")
    auditor = person(server, "audrey", "auditor")
    path = f"/hosts/{agent.agent_id}/scan-now"
    assert "scan-now" in page(operator, f"/hosts/{agent.agent_id}")
    assert "scan-now" not in page(auditor, f"/hosts/{agent.agent_id}")
    assert auditor.post(path, data={"csrf_token": csrf_from(auditor, "/hosts")}).status_code == 403
    answer = operator.post(path, data={"csrf_token": csrf_from(operator, "/hosts")})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("?queued=1")
    assert [c["type"] for c in agent.heartbeat().get_json()["commands"]] == ["scan_now"]
    with server.state.sessions() as session:
        entries = session.execute(
            select(OplogEntry.actor, OplogEntry.outcome, OplogEntry.target).where(
                OplogEntry.action == "console.command.create"
            )
        ).all()
    target = f"host:{agent.agent_id}"
    assert sorted(entries) == [("audrey", "refused", target), ("olga", "ok", target)]
    with server.state.sessions() as session:
        assert revoke_agent(session, agent.agent_id)
        session.commit()
    assert (
        operator.post(path, data={"csrf_token": csrf_from(operator, "/hosts")}).status_code == 409
    )


# --- checks -------------------------------------------------------------------------------


def test_checks_list_counts_failing_hosts(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    body = page(admin, "/checks")
    failing = dict(re.findall(r'<tr data-check="([^"]+)">.*?data-failing="(\d+)"', body, re.S))
    # Every check of the registry is listed, and the ids it does not know that hosts fail.
    from server.policy import check_catalog

    assert {entry["id"] for entry in check_catalog()} <= set(failing)
    assert failing["password.max_age"] == "2"  # office-a and lab-1; gone-1 is revoked
    assert failing["accounts.uid0_extra"] == "0"
    assert "firewall.enabled" not in failing  # unknown to the registry, and nobody fails it
    assert 'href="/hosts?failing=password.max_age"' in body


def test_check_page_in_the_persons_language(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    from server.policy import check_catalog

    entry = next(e for e in check_catalog() if e["id"] == "accounts.uid0_extra")
    # A report is the host's whole state: one without password.max_age would retire office-b's
    # pass for it (once a second has gone by since the fixture's report), so it repeats it.
    report(fleet["office-b"], ("accounts.uid0_extra", "fail"), ("password.max_age", "pass"))
    english = page(admin, "/checks/accounts.uid0_extra")
    chinese = page(admin, "/checks/accounts.uid0_extra", **ZH)
    assert entry["title"]["en"] in english and entry["remediation"]["en"] in english
    assert entry["title"]["zh"] in chinese and entry["remediation"]["zh"] in chinese
    assert host_ids(english) == [fleet["office-b"].agent_id]
    # The id agents sent but the registry does not know has a page too, from its results.
    body = page(admin, "/checks/password.max_age")
    assert "not in this server's check list" in body
    assert host_ids(body) == [fleet["lab-1"].agent_id, fleet["office-a"].agent_id]
    counts = dict(re.findall(r'<li data-status="(\w+)">.*?: (\d+)</li>', body, re.S))
    assert counts["fail"] == "2" and counts["pass"] == "1"


def test_check_page_pages_failing_hosts(server: Server, admin: FlaskClient) -> None:
    ids = add_hosts(server, 55)
    now = utcnow()
    with server.state.sessions() as session:
        session.add_all(
            LatestResult(
                agent_id=agent_id,
                check_id="password.max_age",
                resource=resource,
                status="fail",
                message="too old",
                evidence={},
                severity="medium",
                rules=["E4"],
                report_id=0,
                observed_at=now,
                received_at=now,
            )
            for agent_id in ids
            for resource in ("user:a", "user:b")
        )
        session.add(
            Inventory(
                agent_id=ids[0],
                data={"hostname": "x"},
                report_id=0,
                observed_at=now,
                received_at=now,
            )
        )
        session.commit()
    first = page(admin, "/checks/password.max_age")
    assert "Failing hosts (55)" in first and host_ids(first) == ids[:50]
    assert re.search(r'<td class="num">2</td>', first)  # two failing resources each
    assert host_ids(page(admin, "/checks/password.max_age?page=2")) == ids[50:]
    page(admin, "/checks/password.max_age?page=3", 404)


def test_a_result_sent_as_a_message_id_reads_in_the_persons_language(
    server: Server, admin: FlaskClient
) -> None:
    """Issue 13 item 5: the agent sends the sentence's id and parameters (and its English);
    the host page says it in the page's language, the API passes the id on, and a sentence
    this server does not know stays the agent's English."""
    host = server.enroll("pc-words")
    said = results(("firewall.host_firewall", "fail"), ("future.check", "fail"))
    said[0].update(
        message="the host firewall (nftables) accepts inbound traffic by default; set the "
        "input policy to drop",
        message_id="firewall.accepts_inbound",
        params={"backends": "nftables"},
    )
    said[1].update(message="something new", message_id="future.sentence", params={"x": "1"})
    answer = host.send_report(host.report(results=said))
    assert answer.status_code == 200, answer.get_data(as_text=True)

    def sentences(language: dict[str, str]) -> dict[str, str]:
        body = page(admin, f"/hosts/{host.agent_id}", **language)
        found = re.findall(
            r'<a href="/checks/([a-z0-9_.-]+)">.*?<td class="wrap result-message">([^<]*)',
            body,
            re.S,
        )
        return dict(found)

    chinese = sentences(ZH)
    assert chinese["firewall.host_firewall"] == (
        "主机防火墙（nftables）默认接受入站流量；请将入站策略设为 drop"
    )
    assert chinese["future.check"] == "something new"
    assert sentences(EN)["firewall.host_firewall"] == said[0]["message"]

    token = api_token(server)
    listed = server.client().get(
        f"/api/v1/hosts/{host.agent_id}/results", headers={"Authorization": f"Bearer {token}"}
    )
    by_check = {r["check_id"]: r for r in listed.get_json()["results"]}
    assert by_check["firewall.host_firewall"]["message_id"] == "firewall.accepts_inbound"
    assert by_check["firewall.host_firewall"]["params"] == {"backends": "nftables"}

    bad = results(("firewall.host_firewall", "fail"))
    bad[0].update(message_id="Not An Id", params={})
    refused = host.send_report(host.report(results=bad))
    assert refused.status_code == 400
    assert "results[0].message_id" in refused.get_data(as_text=True)


def test_failing_queries_read_the_failing_index(
    server: Server, fleet: dict[str, SignedAgent]
) -> None:
    """The failing-results index is partial (migration 0024), so the queries say ``'fail'``
    in their text: with a bound parameter SQLite still picks the index but reads every row's
    table entry to test the status (the checks list's count at 10,000 hosts: 128 ms against
    20 ms), and PostgreSQL's generic plan for a statement prepared after five runs cannot use
    it at all."""
    engine = server.state.engine
    sqlite = engine.dialect.name == "sqlite"
    sent: list[tuple[str, Any]] = []

    def seen(_c: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if "latest_results" in statement:
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with server.state.sessions() as session:
            assert store.failing_hosts_per_check(session) == {"password.max_age": 2}
            hosts, total = store.failing_hosts(session, "password.max_age", 50, 0)
            assert total == 2 and len(hosts) == 2
            chosen = store.HostFilter(failing_check="password.max_age")
            assert store.count_hosts(session, chosen, 300) == 2
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(sent) >= 4
    for statement, _parameters in sent:
        assert "latest_results.status = 'fail'" in statement, statement
        assert re.search(r"latest_results\.status = (\?|%)", statement) is None, statement
    plans = []
    with engine.connect() as connection:
        if not sqlite:
            # PostgreSQL plans by table size and would read this tiny table whole; without
            # sequential scans it shows which indexes the query can use at all.
            connection.exec_driver_sql("SET enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN"
        for statement, parameters in sent:
            plan = connection.exec_driver_sql(f"{explain} {statement}", parameters)
            plans.append(" | ".join(str(row[-1]) for row in plan))
        connection.rollback()
    # Every read of the latest results goes through an index (the revoked hosts' share
    # through the (agent, status) one), and the failing index serves all but that share.
    table_scan = re.compile(r"SCAN latest_results(?! USING (COVERING )?INDEX)|Seq Scan on latest")
    assert not [plan for plan in plans if table_scan.search(plan)], plans
    assert sum("ix_latest_results_failing" in plan for plan in plans) >= len(plans) - 1, plans
