"""Network devices on the fleet pages (server/fleet with server/devices), on both databases: the
hosts list and the dashboard show a device as a device (its type and last check), never as an
offline agent; the status filter has a value of its own for them; a device's host page checks
it now through "Check now" (roles, operation log, the notice after the redirect).

Checks that reach a device are real: a device on a loopback port nobody listens on, checked by
the server in the background exactly as ``xunjian server device check --now`` would, is
unreachable. What a check finds on a real SSH server is in tests/devices/test_devices_fleet.py;
here other outcomes are written into the devices table as a check would have left them."""

from __future__ import annotations

import datetime
import json
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from server.devices import jobs
from server.devices.models import Device
from server.devices.store import add_device, claim, validate
from server.oplog.models import OplogEntry
from server.store.agents import revoke_agent
from server.store.models import Agent, utcnow
from tests.harness import free_port, wait_for
from tests.server.conftest import Server, SignedAgent
from tests.server.test_console import csrf_from
from tests.server.test_fleet import ZH, host_ids, make_fleet, page, person

AUTHORISATION = "School-owned device; checks approved by the IT office (ticket 9)"


@pytest.fixture
def admin(server: Server) -> FlaskClient:
    return person(server, "admin", "admin")


@pytest.fixture
def fleet(server: Server) -> dict[str, SignedAgent]:
    return make_fleet(server)


def add(server: Server, address: str, device_type: str, port: int = 22, label: str = "") -> Device:
    with server.state.sessions() as session:
        new = validate(address, port, device_type, label, "root", "Zhang Min", AUTHORISATION)
        device = add_device(session, new, "admin")
        session.commit()
        session.refresh(device)
        session.expunge(device)
    return device


def found(server: Server, device: Device, outcome: str, **values: object) -> None:
    """The device's row as a check with this outcome leaves it."""
    with server.state.sessions() as session:
        session.execute(
            update(Device)
            .where(Device.id == device.id)
            .values(
                last_outcome=outcome,
                last_checked_at=utcnow() - datetime.timedelta(hours=2),
                due_at=utcnow() + datetime.timedelta(hours=22),
                last_message=f"{outcome} (as found)",
                **values,
            )
        )
        # Intake touches last_seen with every stored check, as a heartbeat would for an agent.
        session.execute(update(Agent).where(Agent.id == device.agent_id).values(last_seen=utcnow()))
        session.commit()


def row_of(body: str, host_id: str) -> str:
    match = re.search(rf'<tr data-host="{host_id}"[^>]*>(.*?)</tr>', body, re.S)
    assert match is not None, host_id
    return match.group(1)


def device_row(server: Server, device_id: int) -> Device:
    with server.state.sessions() as session:
        device = session.get(Device, device_id)
        assert device is not None
        session.expunge(device)
    return device


def checked(server: Server, device_id: int, after: datetime.datetime | None) -> bool:
    """The background check ran to its end: a newer last check, and the claim let go."""
    device = device_row(server, device_id)
    done = device.last_checked_at is not None and (after is None or device.last_checked_at > after)
    return done and device.claimed_by is None


def test_devices_are_listed_and_counted_as_devices(
    server: Server, admin: FlaskClient, fleet: dict[str, SignedAgent]
) -> None:
    router = add(server, "192.0.2.1", "router", label="office router")
    nas = add(server, "192.0.2.2", "nas", label="backup nas")
    linux = add(server, "nas-2.example.org", "linux", label="print server")
    fresh = add(server, "192.0.2.4", "ap", label="hall ap")
    retired = add(server, "192.0.2.5", "switch", label="old switch")
    found(server, router, "default_credential", credential_user="admin")
    found(server, nas, "unreachable")
    found(server, linux, "no_default", org_key_accepted=False)
    with server.state.sessions() as session:
        assert revoke_agent(session, retired.agent_id)
        session.commit()

    ids = {name: agent.agent_id for name, agent in fleet.items()}
    devices = {
        "office router": router.agent_id,
        "backup nas": nas.agent_id,
        "print server": linux.agent_id,
        "hall ap": fresh.agent_id,
    }

    def shown(query: str) -> set[str]:
        body = page(admin, "/hosts" + query)
        names = {
            name
            for name, agent_id in {**ids, **devices, "old switch": retired.agent_id}.items()
            if agent_id in host_ids(body)
        }
        assert f"({len(names)})</h1>" in body
        return names

    # Each device was "heard from" just now (its check), yet none is an online agent, and
    # none that was never heard from is an offline one.
    assert shown("?status=online") == {"office-a", "office-b"}
    assert shown("?status=offline") == {"lab-1"}
    assert shown("?status=device") == set(devices)
    assert shown("?status=revoked") == {"gone-1", "old switch"}
    assert shown("") == set(ids) | set(devices) | {"old switch"}
    assert shown("?status=device&failing=device.default_credential") == set()  # no result yet
    # Search finds a device by the start of its address, IP or host name.
    assert shown("?q=192.0.2.2") == {"backup nas"}
    assert shown("?q=NAS-2.example") == {"print server"}
    # "nas": part of one's host name (label), the start of the other's address; the address
    # matches at its start only.
    assert shown("?q=nas") == {"backup nas", "print server"}
    assert shown("?q=2.example") == set()

    body = page(admin, "/hosts")
    router_row = row_of(body, router.agent_id)
    assert 'data-state="device"' in router_row and "router" in router_row
    assert 'data-outcome="default_credential"' in router_row
    assert "accepts a vendor-default password" in router_row
    assert "offline" not in router_row and "online" not in router_row
    assert re.search(r"checked \d{4}-\d\d-\d\d \d\d:\d\d", router_row)
    nas_row = row_of(body, nas.agent_id)
    assert "NAS" in nas_row and 'data-outcome="unreachable"' in nas_row and "unreachable" in nas_row
    linux_row = row_of(body, linux.agent_id)
    assert 'data-outcome="key_refused"' in linux_row and "organisation key refused" in linux_row
    fresh_row = row_of(body, fresh.agent_id)
    assert "Wi-Fi access point" in fresh_row and "not checked yet" in fresh_row
    assert 'data-outcome="not_checked"' in fresh_row
    # A revoked device is revoked, like any host.
    assert "revoked" in row_of(body, retired.agent_id)
    assert 'data-outcome="' not in row_of(body, retired.agent_id)
    assert 'data-state="device"' not in row_of(body, fleet["lab-1"].agent_id)
    assert '<option value="device">device</option>' in body

    # The dashboard: devices apart from the online and offline agents.
    dashboard = page(admin, "/")
    counts = dict(
        re.findall(r'data-count="(\w+)"><span class="fleet-number[^"]*">([^<]+)<', dashboard)
    )
    assert (counts["online"], counts["offline"], counts["revoked"]) == ("2", "1", "2")
    assert (counts["devices"], counts["total"]) == ("4", "9")
    outcomes = dict(re.findall(r'<tr data-outcome="(\w+)">.*?class="num">(\d+)<', dashboard, re.S))
    assert outcomes == {
        "default_credential": "1",
        "no_default": "1",
        "unreachable": "1",
        "not_checked": "1",
    }
    assert next(iter(outcomes)) == "default_credential"  # the finding first
    assert 'href="/hosts?status=device"' in dashboard

    # In Chinese.
    chinese = page(admin, "/hosts?status=device", **ZH)
    assert "设备" in chinese and "路由器" in chinese and "无法连接" in chinese
    assert "尚未检查" in chinese and "单位密钥被拒绝" in chinese
    assert "检查于" in chinese
    assert "按最近检查结果统计的设备" in page(admin, "/", **ZH)

    # The bad-status page names the new value.
    assert "online, offline, device, revoked or isolated" in page(
        admin, "/hosts?status=devices", 400
    )


def test_a_device_without_devices_shows_no_device_parts(admin: FlaskClient) -> None:
    body = page(admin, "/")
    assert 'data-count="devices"><span class="fleet-number">0<' in body
    assert "Devices by last check" not in body


def test_check_now_on_a_device_host_page(server: Server, agent: SignedAgent) -> None:
    # Nobody listens on this loopback port: the check finds the device unreachable.
    device = add(server, "127.0.0.1", "router", port=free_port(), label="closet router")
    path = f"/hosts/{device.agent_id}"
    admin = person(server, "admin", "admin")
    operator = person(server, "olga", "operator")
    auditor = person(server, "audrey", "auditor")

    before = page(admin, path)
    assert 'id="device"' in before and "closet router" in before
    assert "Check now" in before and ">Scan now<" not in before
    assert "Zhang Min" in before and "ticket 9" in before
    assert 'data-state="device"' in before and "offline" not in before.split('id="results"')[0]
    assert "Check now" in page(operator, path)
    assert "scan-now" not in page(auditor, path)

    # An auditor may not; the refusal is logged under the device action.
    answer = auditor.post(f"{path}/scan-now", data={"csrf_token": csrf_from(auditor, path)})
    assert answer.status_code == 403
    # No CSRF token: refused before anything happens.
    assert operator.post(f"{path}/scan-now").status_code == 400

    answer = operator.post(f"{path}/scan-now", data={"csrf_token": csrf_from(operator, path)})
    assert answer.status_code == 302
    assert answer.headers["Location"].endswith(f"{path}?check=started")
    assert "The device check has started" in page(operator, answer.headers["Location"])
    wait_for("the device check", lambda: checked(server, device.id, None))
    assert device_row(server, device.id).last_outcome == "unreachable"
    # No command was queued for a device: there is no agent to take it.
    assert agent.heartbeat().get_json()["commands"] == []

    body = page(admin, path)
    facts = body.split('id="results"')[0]
    assert 'data-outcome="unreachable"' in facts and "unreachable" in facts
    results = body.split('id="results"')[1].split('id="inventory"')[0]
    # The result, with the title the server gives its own device check.
    assert 'data-status="error"' in results
    assert "The network device accepts no vendor-default password" in results
    assert "device.default_credential" in results
    chinese = page(admin, path, **ZH)
    assert "网络设备不接受厂商默认密码" in chinese and "无法连接" in chinese
    assert "立即检查" in chinese
    check_page = page(admin, "/checks/device.default_credential")
    assert "not in this server's check list" not in check_page
    assert re.search(r'<li data-status="error">.*?: 1</li>', check_page, re.S)

    # Another check holds the device (the schedule, another person): "busy", nothing run.
    first_check = device_row(server, device.id).last_checked_at
    assert claim(server.state.engine, device.id, "another-process", due_only=False)
    answer = admin.post(f"{path}/scan-now", data={"csrf_token": csrf_from(admin, path)})
    assert answer.headers["Location"].endswith("?check=busy")
    assert "being checked right now" in page(admin, answer.headers["Location"])
    assert "checking now" in page(admin, path)
    with server.state.sessions() as session:
        session.execute(update(Device).values(claimed_by=None, claimed_until=None))
        session.commit()

    # Every slot of this process busy: the device is only made due for the next sweep.
    for _ in range(jobs.MAX_RUNNING):  # (the finished check lets its slot go last)
        assert jobs._slots.acquire(timeout=30)
    try:
        with server.state.sessions() as session:
            session.execute(update(Device).values(due_at=None))
            session.commit()
        answer = admin.post(f"{path}/scan-now", data={"csrf_token": csrf_from(admin, path)})
    finally:
        for _ in range(jobs.MAX_RUNNING):
            jobs._slots.release()
    assert answer.headers["Location"].endswith("?check=queued")
    assert "checked within 30 seconds" in page(admin, answer.headers["Location"])
    queued = device_row(server, device.id)
    assert queued.due_at is not None and queued.last_checked_at == first_check

    # The entries: who asked, on which host, which device, what happened.
    with server.state.sessions() as session:
        entries = session.execute(
            select(OplogEntry.actor, OplogEntry.outcome, OplogEntry.target, OplogEntry.details)
            .where(OplogEntry.action == "console.device.check")
            .order_by(OplogEntry.seq)
        ).all()
    target = f"host:{device.agent_id}"
    assert [(e.actor, e.outcome, e.target) for e in entries] == [
        ("audrey", "refused", target),
        ("olga", "ok", target),
        ("admin", "ok", target),
        ("admin", "ok", target),
    ]
    details = [json.loads(entry.details) for entry in entries]
    assert [d.get("started") for d in details[1:]] == ["started", "busy", "queued"]
    assert details[1]["device"] == device.id
    oplog = page(admin, f"{path}/oplog")
    assert re.findall(r'data-action="([^"]+)"', oplog).count("console.device.check") == 4

    # A revoked device is out of the fleet: 409, and no button.
    with server.state.sessions() as session:
        assert revoke_agent(session, device.agent_id)
        session.commit()
    assert "scan-now" not in page(admin, path)
    answer = admin.post(f"{path}/scan-now", data={"csrf_token": csrf_from(admin, path)})
    assert answer.status_code == 409


def test_the_host_oplog_of_a_device_names_its_device_entries(
    server: Server, admin: FlaskClient
) -> None:
    token = csrf_from(admin, "/devices")
    form = {
        "address": "192.0.2.30",
        "port": "22",
        "type": "switch",
        "label": "core switch",
        "key_user": "root",
        "authorised_by": "Zhang Min",
        "authorisation": AUTHORISATION,
        "confirm": "yes",
        "csrf_token": token,
    }
    assert admin.post("/devices/add", data=form).status_code == 302
    with server.state.sessions() as session:
        device = session.scalars(select(Device)).one()
        device_id, host_id = device.id, device.agent_id
    assert admin.post(f"/devices/{device_id}/check", data={"csrf_token": token}).status_code == 302
    body = page(admin, f"/hosts/{host_id}")
    # device.add and the Devices page's check (target device:<n>).
    assert "Entries that name this host: 2." in body
    actions = re.findall(r'data-action="([^"]+)"', page(admin, f"/hosts/{host_id}/oplog"))
    assert actions == ["devices.check", "device.add"]


def test_agents_keep_their_scan_now(server: Server, admin: FlaskClient, agent: SignedAgent) -> None:
    add(server, "192.0.2.40", "ap")
    path = f"/hosts/{agent.agent_id}"
    body = page(admin, path)
    assert ">Scan now<" in body and 'id="device"' not in body
    answer = admin.post(f"{path}/scan-now", data={"csrf_token": csrf_from(admin, path)})
    assert answer.headers["Location"].endswith("?queued=1")
    assert "A scan was requested." in page(admin, answer.headers["Location"])
    assert [c["type"] for c in agent.heartbeat().get_json()["commands"]] == ["scan_now"]
    with server.state.sessions() as session:
        assert session.scalar(select(Device.last_checked_at)) is None  # no device was checked
        assert session.scalar(select(Device.due_at)) is not None  # only its own first check


def test_the_api_and_the_cli_never_call_a_device_online(
    server: Server, fleet: dict[str, SignedAgent]
) -> None:
    """A stored device check touches last_seen like a heartbeat; GET /api/v1/hosts and
    ``xunjian server agent list`` must still not count the device among online agents."""
    from tests.harness import run_cli
    from tests.server.test_api import api_token, bearer

    router = add(server, "192.0.2.1", "router", label="office router")
    found(server, router, "default_credential", credential_user="admin")  # last_seen: now
    answer = server.app.test_client().get(
        "/api/v1/hosts?limit=100", headers=bearer(api_token(server))
    )
    assert answer.status_code == 200
    hosts = {host["id"]: host for host in answer.get_json()["hosts"]}
    assert hosts[router.agent_id]["platform"] == "device"
    assert hosts[router.agent_id]["online"] is False
    assert hosts[fleet["office-a"].agent_id]["online"] is True  # an agent that reported
    listed = run_cli("server", "agent", "list", "--data", str(server.data)).stdout
    [line] = [line for line in listed.splitlines() if line.startswith(router.agent_id)]
    assert re.search(r"\s{2}device\s{2}", line), line  # the state column
