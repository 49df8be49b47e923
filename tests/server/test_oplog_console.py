"""The console's Operation log page: admin and auditor read it (filters, keyset paging,
address:port, the chain's status) and export the filtered view as CSV; each view and export is
itself an entry with the filter in its details, and every refused attempt is one too."""

from __future__ import annotations

import csv
import datetime
import io
import json
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from server.oplog import views as oplog_console
from server.oplog.chain import EntryFields
from server.oplog.hook import operation_log
from server.oplog.models import OplogCheckpoint, OplogEntry
from server.store.accounts import create_user
from tests.server.conftest import Server

PASSWORD = "Pass-word-2026"
EN = {"Accept-Language": "en"}
PEER = {"REMOTE_ADDR": "10.1.2.3", "REMOTE_PORT": "40404"}


def person(server: Server, name: str, role: str) -> FlaskClient:
    with server.state.sessions() as session:
        user = create_user(session, name, role, PASSWORD)
        user.must_change_password = False
        session.commit()
    client = server.client()
    login = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token
    answer = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302
    return client


def append(server: Server, count: int, **fields: object) -> None:
    log = operation_log(server.app)
    for index in range(count):
        values: dict = {
            "actor": "cli:root",
            "role": "cli",
            "target": f"thing:{index}",
            "client_address": "192.0.2.4",
            "client_port": 1000 + index,
        }
        values.update(fields)
        log.append(EntryFields.make(str(values.pop("action", "test.event")), **values))


def entries(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(session.scalars(select(OplogEntry).order_by(OplogEntry.seq)))


def view(client: FlaskClient, query: str = "", status: int = 200) -> str:
    answer = client.get(f"/oplog{query}", headers=EN, environ_overrides=PEER)
    assert answer.status_code == status, answer.get_data(as_text=True)[:3000]
    return answer.get_data(as_text=True)


def shown_seqs(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr data-seq="(\d+)"', html)]


def test_admin_and_auditor_read_it_and_each_view_is_an_entry(server: Server) -> None:
    append(server, 3)
    for role in ("admin", "auditor"):
        client = person(server, f"{role}-1", role)
        html = view(client)
        assert "<code>192.0.2.4:1002</code>" in html
        assert 'href="/oplog"' in html  # in the navigation
    views = [e for e in entries(server) if e.action == "oplog.view"]
    assert [(e.actor, e.role, e.outcome, e.target) for e in views] == [
        ("admin-1", "admin", "ok", "oplog"),
        ("auditor-1", "auditor", "ok", "oplog"),
    ]
    assert all((e.client_address, e.client_port) == ("10.1.2.3", 40404) for e in views)
    assert json.loads(views[0].details) == {"returned": 4}  # 3 and admin-1's login
    # The first view shows in the second.
    assert "admin-1" in view(person(server, "auditor-2", "auditor"))


def test_an_operator_is_refused_and_the_refusal_is_an_entry(server: Server) -> None:
    client = person(server, "olga", "operator")
    view(client, status=403)
    assert client.get("/oplog/export.csv").status_code == 403
    assert 'href="/oplog"' not in client.get("/alerts", headers=EN).get_data(as_text=True)
    refused = [
        (e.action, e.actor, e.outcome, e.reason)
        for e in entries(server)
        if e.action.startswith("oplog.")
    ]
    assert refused == [
        ("oplog.view", "olga", "refused", "403 role operator may not read the operation log"),
        ("oplog.export", "olga", "refused", "403 role operator may not read the operation log"),
    ]


def test_without_login_it_redirects_and_records(server: Server) -> None:
    answer = server.client().get("/oplog")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/login")
    [entry] = entries(server)
    assert (entry.action, entry.actor, entry.outcome) == ("oplog.view", "anonymous", "refused")


def test_filters(server: Server) -> None:
    append(server, 2, action="console.alert.ack", actor="olga", role="operator", target="alert:5")
    append(server, 2, action="api.alert_ack", actor="bob", role="admin", target="alert:6")
    append(
        server,
        1,
        action="console.login",
        actor="anonymous",
        role="none",
        target="user:x",
        outcome="refused",
        reason="HTTP 401",
        client_address="2001:db8::9",
    )
    client = person(server, "audrey", "auditor")
    assert shown_seqs(view(client, "?actor=olga")) == [2, 1]
    assert shown_seqs(view(client, "?action=api.")) == [4, 3]
    assert shown_seqs(view(client, "?action=console.alert&target=alert:5")) == [2, 1]
    refused = view(client, "?outcome=refused&actor=anonymous")
    assert shown_seqs(refused) == [5]
    assert "<code>[2001:db8::9]:1000</code>" in refused
    assert shown_seqs(view(client, "?address=2001:db8::9")) == [5]
    # Wildcards are text: "%" matches only a "%".
    assert shown_seqs(view(client, "?action=%25")) == []
    detail = [e for e in entries(server) if e.action == "oplog.view"][-1]
    assert json.loads(detail.details) == {"action": "%", "returned": 0}


# The test reads times in Shanghai; the default is the machine's own zone (issue 13 item 6).
@pytest.mark.parametrize("server_settings", [{"console_timezone": "Asia/Shanghai"}])
def test_time_range_in_the_console_zone(server: Server) -> None:
    append(server, 3)
    with server.state.engine.begin() as connection:
        for seq, day in ((1, 20), (2, 21), (3, 22)):
            connection.execute(
                update(OplogEntry)
                .where(OplogEntry.seq == seq)
                .values(at=datetime.datetime(2026, 11, day, 2, 0))
            )
    client = person(server, "audrey", "auditor")
    # Asia/Shanghai is UTC+8: 2026-11-21 02:00 UTC is 10:00 there.
    assert shown_seqs(view(client, "?since=2026-11-21T09:00&until=2026-11-21T11:00")) == [2]
    assert shown_seqs(view(client, "?since=2026-11-21T11:00&until=2026-11-22T09:00")) == []
    assert shown_seqs(view(client, "?since=2026-11-21&until=2026-11-22")) == [3, 2]
    assert shown_seqs(view(client, "?until=2026-11-20")) == [1]


@pytest.mark.parametrize(
    "query",
    [
        "?outcome=maybe",
        "?since=yesterday",
        "?until=2026-13-01",
        "?before=x",
        "?before=0",
        "?actor=" + "a" * 200,
        "?target=a%0Ab",
    ],
)
def test_bad_filters_are_refused_and_recorded(server: Server, query: str) -> None:
    client = person(server, "audrey", "auditor")
    html = view(client, query, 400)
    assert "A filter value is not acceptable" in html
    [entry] = [e for e in entries(server) if e.action.startswith("oplog.")]
    assert (entry.action, entry.outcome) == ("oplog.view", "refused")
    assert entry.reason.startswith("400 ")


def test_keyset_paging_one_entry_per_page_view(server: Server) -> None:
    client = person(server, "audrey", "auditor")  # the login is entry 1
    append(server, 250)
    first = view(client)
    assert shown_seqs(first) == list(range(251, 151, -1))
    older = re.search(r'href="(/oplog\?before=\d+)" rel="next"', first)
    assert older and older.group(1) == "/oplog?before=152"
    second = view(client, "?before=152")
    assert shown_seqs(second) == list(range(151, 51, -1))
    third = view(client, "?before=52")
    assert shown_seqs(third) == list(range(51, 0, -1)) and 'rel="next"' not in third
    assert 'href="/oplog" rel="first"' in third
    views = [json.loads(e.details) for e in entries(server) if e.action == "oplog.view"]
    assert views == [
        {"returned": 100},
        {"before": 152, "returned": 100},
        {"before": 52, "returned": 51},
    ]


def test_chain_status(server: Server) -> None:
    client = person(server, "audrey", "auditor")
    assert "No signed checkpoint yet." in view(client)
    append(server, 120)  # the default checkpoint comes every 100 entries
    html = view(client)
    assert "Chain intact up to the latest signed checkpoint." in html
    assert "Checkpoint at entry 100 (periodic)" in html
    with server.state.engine.begin() as connection:
        connection.execute(update(OplogCheckpoint).values(signature="00" * 64))
    assert "the signature does not verify" in view(client)
    with server.state.engine.begin() as connection:
        connection.execute(
            update(OplogEntry).where(OplogEntry.seq == 2).values(actor="someone else")
        )
    # An edit deep in the chain is for the full check, which the page names.
    assert "xunjian server oplog verify" in view(client)


def test_an_edited_head_shows(server: Server) -> None:
    client = person(server, "audrey", "auditor")
    append(server, 3)
    with server.state.engine.begin() as connection:
        connection.execute(update(OplogEntry).where(OplogEntry.seq == 4).values(hash="0" * 64))
    html = view(client)
    assert "The operation log is damaged:" in html
    assert "entry 4 does not match the chain head" in html


def test_export_of_the_filtered_view_is_recorded(server: Server) -> None:
    client = person(server, "audrey", "auditor")  # the login is entry 1
    append(server, 3, action="console.alert.ack", actor="olga", role="operator")
    append(server, 2, action="=cmd|' /C calc'!A0", actor="@evil")
    answer = client.get("/oplog/export.csv?action=console.alert", environ_overrides=PEER)
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="xunjian-oplog-')
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["seq"] for row in rows] == ["2", "3", "4"]
    assert rows[0]["client_address"] == "192.0.2.4" and rows[0]["client_port"] == "1000"
    assert rows[0]["at_utc"].endswith("Z") and len(rows[0]["hash"]) == 64
    exported = [e for e in entries(server) if e.action == "oplog.export"]
    assert [(e.actor, e.outcome, e.client_port) for e in exported] == [("audrey", "ok", 40404)]
    assert json.loads(exported[0].details) == {
        "action": "console.alert",
        "format": "csv",
        "through_seq": 6,
    }
    # Cells a spreadsheet would run as formulas are written as text.
    everything = client.get("/oplog/export.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(everything.removeprefix("\ufeff"))))
    evil = [row for row in rows if "calc" in row["action"]]
    assert evil and all(row["action"].startswith("'=") for row in evil)
    assert all(row["actor"] == "'@evil" for row in evil)
    # The first export's own entry (seq 7) is in the second one; the second's is not.
    assert [row["seq"] for row in rows] == [str(seq) for seq in range(1, 8)]


def test_export_reads_the_log_in_batches(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oplog_console, "EXPORT_BATCH", 7)
    append(server, 30, action="bulk")
    client = person(server, "admin-2", "admin")
    answer = client.get("/oplog/export.csv?action=bulk")
    assert answer.is_streamed
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True).removeprefix("\ufeff"))))
    assert [int(row["seq"]) for row in rows] == list(range(1, 31))
