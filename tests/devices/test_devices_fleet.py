"""Devices as first-class hosts, end to end on SQLite and PostgreSQL: a real OpenSSH server
(tests/devices/sshd.py) answers as two "devices" on loopback, one with a vendor-default password
and one Linux box that takes the organisation's key. An operator presses *Check now* on each
device's host page (server/fleet), which checks it in the server as
``xunjian server device check --now`` does; then the default-credential finding and the Linux
collectors' results must be on the host page, the hosts list, the dashboard, in the alerts (API
and console) and in the weekly report, and the password in none of them. Changing the password
and checking again resolves the alert.

The app runs in this process (the Flask client, as tests/server does); the credential lists are
the test's own (``device_credentials_dir``), with real vendor defaults and user names unique to
this run."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from server.app import create_app
from server.devices.models import Device
from server.devices.remote import public_key_line
from server.oplog.models import OplogEntry
from server.policy import group_by_id, set_group_policy
from server.reports.week import IsoWeek, zone_of
from server.store.accounts import create_api_token
from server.store.agents import DEFAULT_GROUP, get_or_create_group
from server.store.models import User, utcnow
from tests.devices.sshd import Sshd, change_password
from tests.harness import wait_for
from tests.report_files import csv_text as report_csv_text
from tests.server.conftest import Server, init_data_folder
from tests.server.test_console import csrf_from
from tests.server.test_fleet import ZH, host_ids, page, person

VENDOR_DEFAULT = "Admin@huawei"  # server/devices/credentials/router.txt
STRONG = "k7#Rq-strong-2026-device!"
NEW_DEVICE_PASSWORD = "Changed-by-the-owner-2026!"
AUTHORISATION = "School-owned device, checks approved by the IT office (ticket 42)"


@pytest.fixture
def sshd() -> Iterator[Sshd]:
    daemon = Sshd.make(addresses=("127.0.0.1", "127.0.0.2"))
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def device_server(tmp_path: Path, database_url: str, sshd: Sshd) -> Iterator[Server]:
    """The server's data folder with quick device settings and the test's credential lists."""
    data = tmp_path / "server"
    output, password = init_data_folder(data, database_url)
    lists = tmp_path / "lists"
    lists.mkdir()
    default, linux = sshd.user("default"), sshd.user("linux")
    (lists / "router.txt").write_text(f"{default}:password\n{default}:{VENDOR_DEFAULT}\n")
    (lists / "linux.txt").write_text(f"{linux}:root\n")
    config_path = data / "config.json"
    config = json.loads(config_path.read_text())
    config.update(
        device_attempt_interval_ms=200,
        device_max_attempts=3,
        device_connect_timeout_seconds=5,
        device_credentials_dir=str(lists),
    )
    config_path.write_text(json.dumps(config, indent=2))
    app = create_app(data)
    app.config["TESTING"] = True
    yield Server(data, app, password, output)
    app.extensions["xunjian"].engine.dispose()


def _api_token(server: Server, name: str) -> dict[str, str]:
    with server.state.sessions() as session:
        user = session.scalar(select(User).where(User.name == name))
        assert user is not None
        token = create_api_token(session, user, "devices fleet test")
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def _add(client: FlaskClient, headers: dict[str, str], address: str, port: int, **extra: Any):
    body = {
        "address": address,
        "port": port,
        "authorised_by": "Wang Wei",
        "authorisation": AUTHORISATION,
        **extra,
    }
    answer = client.post("/api/v1/devices", json=body, headers=headers)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def _device(server: Server, device_id: int) -> Device:
    with server.state.sessions() as session:
        device = session.get(Device, device_id)
        assert device is not None
        session.expunge(device)
    return device


def _check_now(server: Server, operator: FlaskClient, devices: list[dict[str, Any]]) -> None:
    """Press Check now on each device's host page, then wait for every check to end."""
    before = {row["id"]: _device(server, row["id"]).last_checked_at for row in devices}
    for row in devices:
        path = f"/hosts/{row['host_id']}"
        answer = operator.post(f"{path}/scan-now", data={"csrf_token": csrf_from(operator, path)})
        assert answer.status_code == 302
        assert answer.headers["Location"].endswith("?check=started")

    def done() -> bool:
        for row in devices:
            device = _device(server, row["id"])
            previous = before[row["id"]]
            if device.claimed_by is not None or device.last_checked_at is None:
                return False
            if previous is not None and device.last_checked_at <= previous:
                return False
        return True

    wait_for("the device checks started from the console", done)


def _alerts(client: FlaskClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get("/api/v1/alerts", headers=headers)
    assert answer.status_code == 200
    return list(answer.get_json()["alerts"])


def _section(body: str, start: str, end: str) -> str:
    return body.split(f'id="{start}"')[1].split(f'id="{end}"')[0]


def test_device_results_in_console_alerts_and_report(device_server: Server, sshd: Sshd) -> None:
    server = device_server
    org_key = public_key_line(server.data)
    sshd.add_account("default", VENDOR_DEFAULT)
    sshd.add_account("linux", STRONG, authorized_key=org_key)
    sshd.start()
    linux_user = sshd.user("linux")
    # An approved-users list without the Linux device's account: accounts.unapproved fails for
    # it, a collector result that must open its own alert.
    with server.state.sessions() as session:
        group = group_by_id(session, get_or_create_group(session, DEFAULT_GROUP).id)
        set_group_policy(session, group, {"approved": {"users": ["xj-someone-else"]}})
        session.commit()

    client = server.client()
    admin_api = _api_token(server, "admin")
    router = _add(client, admin_api, "127.0.0.1", sshd.port, type="router", label="hall router")
    linux = _add(
        client,
        admin_api,
        "127.0.0.2",
        sshd.port,
        type="linux",
        label="print server",
        key_user=linux_user,
    )
    admin = person(server, "admin", "admin")
    operator = person(server, "olga", "operator")
    auditor = person(server, "audrey", "auditor")
    _check_now(server, operator, [router, linux])

    assert _device(server, router["id"]).last_outcome == "default_credential"
    assert _device(server, linux["id"]).last_outcome == "no_default"
    assert _device(server, linux["id"]).org_key_accepted is True
    # What sshd saw: the router's list top down to the default; one wrong try on the Linux box.
    assert sshd.password_attempts(sshd.user("default")) == 2
    assert sshd.password_attempts(linux_user) == 1

    # --- the host pages ---
    router_page = page(auditor, f"/hosts/{router['host_id']}")
    device_part = _section(router_page, "device", "results")
    assert 'data-outcome="default_credential"' in device_part
    assert f"user {sshd.user('default')}" in device_part
    results = _section(router_page, "results", "inventory")
    finding = re.search(
        r"<tr>\s*<td class=\"check\">.*?device\.default_credential.*?</tr>", results, re.S
    )
    assert finding is not None and 'data-status="fail"' in finding.group(0)
    assert 'data-severity="critical"' in finding.group(0)
    assert "The network device accepts no vendor-default password" in finding.group(0)
    assert "网络设备不接受厂商默认密码" in page(auditor, f"/hosts/{router['host_id']}", **ZH)

    linux_page = page(auditor, f"/hosts/{linux['host_id']}")
    assert "accepted" in _section(linux_page, "device", "results")
    results = _section(linux_page, "results", "inventory")
    statuses = dict(
        re.findall(r"<code>([a-z_.]+)</code></td>\s*<td[^>]*data-status=\"(\w+)\"", results)
    )
    assert statuses["device.default_credential"] == "pass"
    assert statuses["accounts.unapproved"] == "fail"
    assert len(statuses) > 5  # the Linux collectors' checks, not only the prober's
    assert f"user:{linux_user}" in results
    inventory = _section(linux_page, "inventory", "history")
    assert 'data-key="os"' in inventory and "127.0.0.2" in inventory

    # --- the hosts list and the dashboard ---
    listed = page(auditor, "/hosts?status=device")
    assert set(host_ids(listed)) == {router["host_id"], linux["host_id"]}
    assert "accepts a vendor-default password" in listed
    assert host_ids(page(auditor, "/hosts?status=offline")) == []
    assert host_ids(page(auditor, "/hosts?status=online")) == []
    failing = page(auditor, "/hosts?failing=device.default_credential")
    assert host_ids(failing) == [router["host_id"]]
    dashboard = page(auditor, "/")
    assert 'data-count="devices"><span class="fleet-number">2<' in dashboard
    assert 'data-count="offline"><span class="fleet-number">0<' in dashboard
    outcomes = dict(re.findall(r'<tr data-outcome="(\w+)">.*?class="num">(\d+)<', dashboard, re.S))
    assert outcomes == {"default_credential": "1", "no_default": "1"}

    # --- the alerts: the finding as default_credential, each failing collector result as
    # check_failed, all on the devices' hosts ---
    alerts = [a for a in _alerts(client, admin_api) if a["status"] == "open"]
    by_host: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        by_host.setdefault(alert["host"]["id"], []).append(alert)
    (finding_alert,) = by_host[router["host_id"]]
    assert finding_alert["kind"] == "default_credential"
    assert finding_alert["severity"] == "critical"
    assert finding_alert["check_id"] == "device.default_credential"
    latest = client.get(f"/api/v1/hosts/{linux['host_id']}/results", headers=admin_api)
    linux_results = {
        (r["check_id"], r["resource"]): r["status"] for r in latest.get_json()["results"]
    }
    failing_results = {key for key, status in linux_results.items() if status == "fail"}
    assert ("accounts.unapproved", f"user:{linux_user}") in failing_results
    linux_alerts = {(a["kind"], a["check_id"], a["resource"]) for a in by_host[linux["host_id"]]}
    assert {("check_failed", *key) for key in failing_results} == linux_alerts
    alerts_page = page(auditor, "/alerts")
    assert f'href="/hosts/{router["host_id"]}"' in alerts_page and "hall router" in alerts_page
    assert "default credential" in alerts_page
    assert f'href="/hosts/{linux["host_id"]}"' in alerts_page

    # --- the weekly report (POLICY.md A4), as an auditor's script downloads it ---
    now = utcnow().replace(tzinfo=datetime.UTC).astimezone(zone_of(server.state.config))
    week = IsoWeek.containing(now.date())
    answer = client.get(f"/api/v1/reports/weekly?week={week}&format=json", headers=admin_api)
    assert answer.status_code == 200
    report = json.loads(answer.get_data())["report"]
    rows = [dict(zip(report["columns"], row, strict=True)) for row in report["rows"]]
    mine = {(r["host_id"], r["check_id"], r["resource"]): r for r in rows}
    router_row = mine[(router["host_id"], "device.default_credential", f"ssh:{sshd.port}")]
    assert (router_row["status"], router_row["severity"]) == ("fail", "critical")
    assert router_row["hostname"] == "hall router" and "E5" in router_row["rules"]
    unapproved = mine[(linux["host_id"], "accounts.unapproved", f"user:{linux_user}")]
    assert unapproved["status"] == "fail"
    # Every latest result of the Linux device is a row of the week, with its status.
    assert {
        (check, resource): row["status"]
        for (host, check, resource), row in mine.items()
        if host == linux["host_id"]
    } == linux_results
    hosts = {host["id"]: host for host in report["hosts"]}
    assert hosts[router["host_id"]]["platform"] == "device"
    assert hosts[linux["host_id"]]["failed"] >= 1
    csv_answer = client.get(f"/api/v1/reports/weekly?week={week}&format=csv", headers=admin_api)
    assert csv_answer.status_code == 200
    csv_text = report_csv_text(csv_answer.get_data())
    assert "device.default_credential" in csv_text and f"user:{linux_user}" in csv_text

    # The password is shown to nobody on these pages, in no alert and in no report.
    for text in (router_page, linux_page, listed, dashboard, alerts_page, csv_text):
        assert VENDOR_DEFAULT not in text
    assert VENDOR_DEFAULT not in json.dumps(alerts) + json.dumps(report)
    assert VENDOR_DEFAULT not in page(admin, f"/hosts/{router['host_id']}")

    # The owner changes the password; Check now again resolves the alert.
    change_password(sshd.user("default"), NEW_DEVICE_PASSWORD)
    _check_now(server, operator, [router])
    assert _device(server, router["id"]).last_outcome == "no_default"
    resolved = [a for a in _alerts(client, admin_api) if a["kind"] == "default_credential"]
    assert [a["status"] for a in resolved] == ["resolved"]
    again = page(auditor, f"/hosts/{router['host_id']}")
    assert 'data-outcome="no_default"' in _section(again, "device", "results")

    # Each press of Check now is in the operation log, on the device's host.
    with server.state.sessions() as session:
        entries = session.execute(
            select(OplogEntry.actor, OplogEntry.target).where(
                OplogEntry.action == "console.device.check"
            )
        ).all()
    assert sorted(entries) == sorted(
        [
            ("olga", f"host:{router['host_id']}"),
            ("olga", f"host:{linux['host_id']}"),
            ("olga", f"host:{router['host_id']}"),
        ]
    )
