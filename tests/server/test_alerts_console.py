"""The console's Alerts pages: the list with filters and paging for every role, one alert with
comments and notification history, and acknowledge / comment / resolve for admin and operator
only, through the same code as the API; every POST is an operation log entry."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from server.alerts.models import Alert, AlertNotification
from server.oplog.models import OplogEntry
from server.store.accounts import create_user
from server.store.models import utcnow
from tests.server.conftest import Server, SignedAgent
from tests.server.test_alerts import result, send
from tests.server.test_api import api_token, bearer

PASSWORD = "Pass-word-2026"
EN = {"Accept-Language": "en"}
PEER = {"REMOTE_ADDR": "10.9.8.7", "REMOTE_PORT": "50123"}


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path, headers=EN).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def person(server: Server, name: str, role: str) -> FlaskClient:
    """A console client logged in as a new ``role`` user (password already changed)."""
    with server.state.sessions() as session:
        user = create_user(session, name, role, PASSWORD)
        user.must_change_password = False
        session.commit()
    client = server.client()
    answer = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf_token": csrf(client, "/login")},
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


@pytest.fixture
def failing(server: Server, agent: SignedAgent) -> int:
    send(agent, [result("accounts.uid0_extra", "fail", "user:toor", severity="critical")])
    with server.state.sessions() as session:
        return int(session.scalars(select(Alert.id)).one())


def page(client: FlaskClient, path: str, status: int = 200) -> str:
    answer = client.get(path, headers=EN)
    assert answer.status_code == status, answer.get_data(as_text=True)[:2000]
    return answer.get_data(as_text=True)


def post(client: FlaskClient, path: str, alert_id: int, **fields: str):
    token = csrf(client, f"/alerts/{alert_id}")
    return client.post(
        path, data={"csrf_token": token, **fields}, headers=EN, environ_overrides=PEER
    )


def oplog(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(session.scalars(select(OplogEntry).order_by(OplogEntry.seq)))


def test_every_role_sees_the_list_with_the_host_linked(
    server: Server, agent: SignedAgent, failing: int
) -> None:
    for role in ("admin", "operator", "auditor"):
        client = person(server, f"{role}-1", role)
        html = page(client, "/alerts")
        assert f'href="/alerts/{failing}"' in html
        assert f'<a href="/hosts/{agent.agent_id}">pc-101</a>' in html
        assert "accounts.uid0_extra" in html and "user:toor" in html
        assert 'href="/alerts"' in html  # the navigation entry


def test_the_list_needs_a_login(server: Server) -> None:
    answer = server.client().get("/alerts")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")


def test_filters_and_paging(server: Server, agent: SignedAgent) -> None:
    low = [result(f"c.{n:02d}", "fail", severity="low") for n in range(60)]
    send(agent, [*low, result("c.high", "fail", severity="high")])
    client = person(server, "olga", "operator")
    first = page(client, "/alerts?severity=low")
    ids = [int(found) for found in re.findall(r'<tr data-alert="(\d+)"', first)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    older = re.search(r'href="(/alerts\?[^"]*before=\d+[^"]*)" rel="next"', first)
    assert older, first
    second = page(client, older.group(1).replace("&amp;", "&"))
    more = [int(found) for found in re.findall(r'<tr data-alert="(\d+)"', second)]
    assert len(more) == 10 and max(more) < min(ids)
    assert 'rel="next"' not in second
    high = page(client, "/alerts?severity=high&kind=check_failed&status=open")
    assert len(re.findall(r"<tr data-alert=", high)) == 1
    assert "No alert matches" in page(client, "/alerts?status=resolved")
    assert len(re.findall(r"<tr data-alert=", page(client, "/alerts?status=all"))) == 50


@pytest.mark.parametrize(
    "query",
    [
        "status=closed",
        "severity=urgent",
        "kind=nonsense",
        "before=abc",
        "before=0",
        "before=" + "9" * 30,
    ],
)
def test_bad_filters_are_a_400_page(server: Server, query: str) -> None:
    client = person(server, "olga", "operator")
    html = page(client, f"/alerts?{query}", 400)
    assert "<h1>" in html


def test_operator_acknowledges_comments_and_resolves(server: Server, failing: int) -> None:
    client = person(server, "olga", "operator")
    html = page(client, f"/alerts/{failing}")
    for action in ("ack", "resolve", "comment"):
        assert f'action="/alerts/{failing}/{action}"' in html
    answer = post(client, f"/alerts/{failing}/ack", failing, comment="  looking  ")
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"/alerts/{failing}?done=ack")
    html = page(client, f"/alerts/{failing}?done=ack")
    assert "The alert is acknowledged." in html
    assert "looking" in html and "olga" in html
    assert f'action="/alerts/{failing}/ack"' not in html  # acknowledged: no second button
    assert post(client, f"/alerts/{failing}/comment", failing, text="called IT").status_code == 302
    assert post(client, f"/alerts/{failing}/resolve", failing).status_code == 302

    listing = server.client().get(
        "/api/v1/alerts?status=resolved", headers=bearer(api_token(server))
    )
    [alert] = listing.get_json()["alerts"]
    assert (alert["acknowledged_by"], alert["resolved_by"]) == ("olga", "olga")
    assert [(c["author"], c["text"]) for c in alert["comments"]] == [
        ("olga", "looking"),
        ("olga", "called IT"),
    ]
    entries = [e for e in oplog(server) if e.action.startswith("console.alert.")]
    assert [(e.action, e.actor, e.role, e.target, e.outcome) for e in entries] == [
        ("console.alert.ack", "olga", "operator", f"alert:{failing}", "ok"),
        ("console.alert.comment", "olga", "operator", f"alert:{failing}", "ok"),
        ("console.alert.resolve", "olga", "operator", f"alert:{failing}", "ok"),
    ]
    assert all((e.client_address, e.client_port) == ("10.9.8.7", 50123) for e in entries)


def test_a_resolved_alert_cannot_be_acknowledged_or_resolved_again(
    server: Server, failing: int
) -> None:
    client = person(server, "olga", "operator")
    assert post(client, f"/alerts/{failing}/resolve", failing).status_code == 302
    for action in ("ack", "resolve"):
        answer = post(client, f"/alerts/{failing}/{action}", failing, comment="late")
        assert answer.status_code == 409
        assert "resolved already" in answer.get_data(as_text=True)
    # What was found afterwards may still be written down.
    assert post(client, f"/alerts/{failing}/comment", failing, text="root cause").status_code == 302
    with server.state.sessions() as session:
        alert = session.get(Alert, failing)
        assert alert is not None and alert.acknowledged_by is None
    refused = [e for e in oplog(server) if e.outcome == "refused"]
    assert [(e.action, e.reason) for e in refused] == [
        ("console.alert.ack", "HTTP 409"),
        ("console.alert.resolve", "HTTP 409"),
    ]


def test_the_auditor_sees_no_buttons_and_is_refused(server: Server, failing: int) -> None:
    client = person(server, "audrey", "auditor")
    html = page(client, f"/alerts/{failing}")
    assert '<form method="post" action="/alerts/' not in html
    for action, fields in (("ack", {}), ("resolve", {}), ("comment", {"text": "x"})):
        answer = post(client, f"/alerts/{failing}/{action}", failing, **fields)
        assert answer.status_code == 403
    with server.state.sessions() as session:
        alert = session.get(Alert, failing)
        assert alert is not None and alert.acknowledged_at is None and alert.resolved_at is None
    refused = [e for e in oplog(server) if e.action.startswith("console.alert.")]
    assert [(e.actor, e.outcome, e.reason) for e in refused] == [
        ("audrey", "refused", "HTTP 403")
    ] * 3


@pytest.mark.parametrize(
    ("path", "fields", "status"),
    [
        ("/alerts/999999/ack", {}, 404),
        ("/alerts/999999/resolve", {}, 404),
        ("/alerts/999999/comment", {"text": "x"}, 404),
        ("/alerts/{id}/comment", {"text": "   "}, 400),
        ("/alerts/{id}/comment", {}, 400),
        ("/alerts/{id}/comment", {"text": "x" * 2001}, 400),
        ("/alerts/{id}/ack", {"comment": "x" * 2001}, 400),
        ("/alerts/abc/ack", {}, 404),
    ],
)
def test_bad_requests_are_clear_4xx_and_change_nothing(
    server: Server, failing: int, path: str, fields: dict[str, str], status: int
) -> None:
    client = person(server, "olga", "operator")
    answer = post(client, path.replace("{id}", str(failing)), failing, **fields)
    assert answer.status_code == status
    with server.state.sessions() as session:
        alert = session.get(Alert, failing)
        assert alert is not None and alert.acknowledged_at is None
    listing = server.client().get("/api/v1/alerts", headers=bearer(api_token(server)))
    assert listing.get_json()["alerts"][0]["comments"] == []


def test_a_post_without_the_csrf_token_is_refused(server: Server, failing: int) -> None:
    client = person(server, "olga", "operator")
    answer = client.post(f"/alerts/{failing}/ack", data={}, headers=EN)
    assert answer.status_code == 400
    with server.state.sessions() as session:
        alert = session.get(Alert, failing)
        assert alert is not None and alert.acknowledged_at is None


def test_unknown_alert_page_is_404(server: Server) -> None:
    client = person(server, "olga", "operator")
    page(client, "/alerts/123456", 404)


def test_the_notification_history_shows_no_secret(server: Server, failing: int) -> None:
    now = utcnow()
    with server.state.engine.begin() as connection:
        for channel, status, error in (
            ("it-hook", "sent", None),
            ("mail", "failed", "permanent: 550 mailbox unavailable"),
        ):
            connection.execute(
                insert(AlertNotification).values(
                    alert_id=failing,
                    channel=channel,
                    event="opened",
                    status=status,
                    attempts=2,
                    created_at=now,
                    next_attempt_at=now,
                    sent_at=now if status == "sent" else None,
                    target="https://hooks.example/xunjian" if status == "sent" else None,
                    last_error=error,
                )
            )
    client = person(server, "audrey", "auditor")
    html = page(client, f"/alerts/{failing}")
    table = html[html.index('class="alerts-notifications"') :]
    assert "it-hook" in table and "mail" in table
    assert "550 mailbox unavailable" in table
    assert "hooks.example" not in table  # where it went is not shown
    assert table.count("<td>2</td>") == 2


def test_a_monitor_alert_names_its_resource(server: Server) -> None:
    with server.state.engine.begin() as connection:
        connection.execute(
            insert(Alert).values(
                kind="down",
                severity="high",
                agent_id=None,
                check_id="monitor:7",
                resource="https://www.school.example/",
                message="status 503",
                open_key="down::monitor:7:",
                opened_at=utcnow() - datetime.timedelta(minutes=5),
            )
        )
    client = person(server, "olga", "operator")
    html = page(client, "/alerts?kind=down")
    assert "monitor:7" in html and "https://www.school.example/" in html
    assert 'href="/hosts/' not in html
    assert json.dumps("page check failed")[1:-1] in html


def test_a_failing_checks_alert_says_what_to_do_in_the_persons_language(
    server: Server, failing: int
) -> None:
    from checks.api import registry_catalog

    [entry] = [e for e in registry_catalog() if e["id"] == "accounts.uid0_extra"]
    client = person(server, "olga", "operator")
    english = page(client, f"/alerts/{failing}")
    assert 'class="remediation"' in english
    assert json.dumps(entry["remediation"]["en"], ensure_ascii=False)[1:-1] in english.replace(
        "&#39;", "'"
    ).replace("&#34;", '"')
    chinese = client.get(f"/alerts/{failing}", headers={"Accept-Language": "zh-CN"})
    text = chinese.get_data(as_text=True)
    assert "整改建议" in text and entry["remediation"]["zh"] in text


def test_bulk_acknowledge_and_resolve_with_one_comment(server: Server, agent: SignedAgent) -> None:
    """Issue 13 item 8: the ticked alerts of a list page changed at once, each as on its own
    page (and an operation log entry of its own); one resolved already is left and counted."""
    send(
        agent,
        [
            result("accounts.uid0_extra", "fail", "user:toor", severity="critical"),
            result("accounts.uid0_extra", "fail", "user:evil", severity="critical"),
            result("firewall.enabled", "fail", "host"),
        ],
    )
    with server.state.sessions() as session:
        ids = sorted(session.scalars(select(Alert.id)))
    assert len(ids) == 3
    olga = person(server, "olga", "operator")
    assert post(olga, f"/alerts/{ids[2]}/resolve", ids[2]).status_code in (302, 303)

    def bulk(client: FlaskClient, **fields: object):
        return client.post(
            "/alerts/bulk",
            data={**fields, "csrf_token": csrf(client, "/alerts")},
            headers=EN,
        )

    answer = bulk(olga, action="ack", alert=[str(i) for i in ids], comment="known, fixing")
    assert answer.status_code == 303
    assert "done=ack" in answer.headers["Location"] and "changed=2" in answer.headers["Location"]
    listing = page(olga, answer.headers["Location"])
    assert "2 alert(s) acknowledged. 1 were resolved already and were left as they are." in listing
    with server.state.sessions() as session:
        alerts = {a.id: a for a in session.scalars(select(Alert))}
    assert [alerts[i].acknowledged_by for i in ids[:2]] == ["olga", "olga"]
    assert alerts[ids[2]].acknowledged_by is None
    bulk_entries = [e for e in oplog(server) if '"bulk"' in (e.details or "")]
    assert sorted((e.target, e.outcome) for e in bulk_entries) == [
        (f"alert:{ids[0]}", "ok"),
        (f"alert:{ids[1]}", "ok"),
        (f"alert:{ids[2]}", "refused"),
    ]
    for alert_id in ids[:2]:
        assert "known, fixing" in page(olga, f"/alerts/{alert_id}")

    assert bulk(olga, action="resolve", alert=[str(ids[0])]).status_code == 303
    assert bulk(olga, action="delete", alert=[str(ids[0])]).status_code == 400
    assert bulk(olga, action="ack").status_code == 400
    assert bulk(olga, action="ack", alert=["x"]).status_code == 400
    audrey = person(server, "audrey", "auditor")
    assert bulk(audrey, action="ack", alert=[str(ids[1])]).status_code == 403
    assert 'name="alert"' not in page(audrey, "/alerts")


def test_an_alert_says_its_sentence_in_the_persons_language(
    server: Server, agent: SignedAgent
) -> None:
    """Issue 13 item 5: a failed check's alert whose result came as a message id reads in the
    page's language on the list and on its page; one without stays the agent's English."""
    said = result("accounts.uid0_extra", "fail", "user:toor", severity="critical")
    said.update(
        message="account toor has UID 0, so it holds every power root holds",
        message_id="accounts.uid0_extra",
        params={"user": "toor"},
    )
    plain = result("firewall.host_firewall", "fail")
    send(agent, [said, plain])
    with server.state.sessions() as session:
        ids = {a.check_id: a.id for a in session.scalars(select(Alert))}
    olga = person(server, "olga", "operator")

    def text(path: str, language: str) -> str:
        answer = olga.get(path, headers={"Accept-Language": language})
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    chinese = "账户 toor 的 UID 为 0，拥有与 root 相同的全部权限"
    page_zh = text(f"/alerts/{ids['accounts.uid0_extra']}", "zh-CN")
    assert f'<pre class="alert-message">{chinese}</pre>' in page_zh
    assert chinese in text("/alerts", "zh-CN")
    assert "account toor has UID 0" in text(f"/alerts/{ids['accounts.uid0_extra']}", "en")
    assert "firewall.host_firewall fail" in text(
        f"/alerts/{ids['firewall.host_firewall']}", "zh-CN"
    )
