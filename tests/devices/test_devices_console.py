"""The console's Devices page (server/devices/views.py) on both databases, through the real app
and its login, CSRF and roles: the add form needs the authorisation and its confirmation; the
found password is shown to admins only, after a POST, and the view is in the operation log;
operators may start checks; auditors only read."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import select, update

from server.devices.models import Device
from server.devices.store import seal
from server.oplog.models import OplogEntry
from server.store.accounts import create_api_token, create_user
from server.store.models import Agent, User
from tests.server.conftest import Server
from tests.server.test_console import NEW_PASSWORD, change_password, csrf_from, log_in

FOUND = "ubnt-Secret-9"
AUTHORISATION = "Owned by the school; approved by the head of IT (ticket 7)"


def _client(server: Server, name: str, role: str | None) -> FlaskClient:
    client = server.client()
    password = server.admin_password
    if role is not None:
        password = f"{name}-Pass-2026"
        with server.state.sessions() as session:
            create_user(session, name, role, password)
            session.commit()
    assert log_in(client, name, password) == 302
    assert change_password(client, password, NEW_PASSWORD) == 302
    return client


def _form(**changes: str) -> dict[str, str]:
    form = {
        "address": "192.0.2.10",
        "port": "22",
        "type": "ap",
        "label": "hall AP",
        "key_user": "root",
        "authorised_by": "Zhang Min",
        "authorisation": AUTHORISATION,
        "confirm": "yes",
    }
    form.update(changes)
    return {key: value for key, value in form.items() if value != "-"}


def _devices(server: Server) -> list[Device]:
    with server.state.sessions() as session:
        return list(session.scalars(select(Device)))


def test_devices_page_roles_and_credential(server: Server) -> None:
    admin = _client(server, "admin", None)
    page = admin.get("/devices").get_data(as_text=True)
    assert "Add a device" in page or "添加设备" in page
    token = csrf_from(admin, "/devices")

    # Refused: no confirmation, a bad address, a short authorisation. Nothing is stored.
    for changes in ({"confirm": "-"}, {"address": "bad address!"}, {"authorisation": "ok"}):
        answer = admin.post("/devices/add", data={**_form(**changes), "csrf_token": token})
        assert answer.status_code == 400, changes
    assert admin.post("/devices/add", data=_form()).status_code == 400  # no CSRF token
    assert _devices(server) == []

    answer = admin.post("/devices/add", data={**_form(), "csrf_token": token})
    assert answer.status_code == 302
    (device,) = _devices(server)
    assert (device.address, device.type, device.authorised_by) == ("192.0.2.10", "ap", "Zhang Min")
    assert device.added_by == "admin"
    again = admin.post("/devices/add", data={**_form(), "csrf_token": token})
    assert again.status_code == 409

    # A credential the prober found (tests/devices/test_devices_e2e.py finds a real one).
    with server.state.sessions() as session:
        session.execute(
            update(Device)
            .where(Device.id == device.id)
            .values(
                last_outcome="default_credential",
                credential_user="ubnt",
                credential_secret=seal(server.data, FOUND),
            )
        )
        session.commit()

    operator = _client(server, "olga", "operator")
    auditor = _client(server, "audrey", "auditor")
    for client in (operator, auditor):
        listed = client.get("/devices").get_data(as_text=True)
        assert "hall AP" in listed and "ubnt" in listed
        assert FOUND not in listed
        assert f"/devices/{device.id}/credential" not in listed
        assert 'action="/devices/add"' not in listed
    assert 'action="/devices/add"' in admin.get("/devices").get_data(as_text=True)
    assert "ssh-ed25519 " in operator.get("/devices").get_data(as_text=True)
    assert "ssh-ed25519 " not in auditor.get("/devices").get_data(as_text=True)

    auditor_token = csrf_from(auditor, "/devices")
    operator_token = csrf_from(operator, "/devices")
    check = f"/devices/{device.id}/check"
    assert auditor.post(check, data={"csrf_token": auditor_token}).status_code == 403
    with server.state.sessions() as session:
        session.execute(update(Device).values(due_at=None))
        session.commit()
    assert operator.post(check, data={"csrf_token": operator_token}).status_code == 302
    assert _devices(server)[0].due_at is not None
    assert (
        operator.post("/devices/999/check", data={"csrf_token": operator_token}).status_code == 404
    )

    reveal = f"/devices/{device.id}/credential"
    assert operator.post(reveal, data={"csrf_token": operator_token}).status_code == 403
    assert auditor.post(reveal, data={"csrf_token": auditor_token}).status_code == 403
    shown = admin.post(reveal, data={"csrf_token": token})
    assert shown.status_code == 200
    assert FOUND in shown.get_data(as_text=True)
    assert "no-store" in shown.headers.get("Cache-Control", "")

    # Removing: admins only; the device's host row and results go with it.
    remove = f"/devices/{device.id}/remove"
    assert operator.post(remove, data={"csrf_token": operator_token}).status_code == 403
    assert admin.post(remove, data={"csrf_token": token}).status_code == 302
    assert _devices(server) == []
    assert admin.post(remove, data={"csrf_token": token}).status_code == 404
    with server.state.sessions() as session:
        assert session.get(Agent, device.agent_id) is None
        entries = list(session.scalars(select(OplogEntry).order_by(OplogEntry.seq)))
    actions = [entry.action for entry in entries]
    assert actions.count("device.add") == 1
    assert actions.count("device.remove") == 1
    views = [entry for entry in entries if entry.action == "device.credential.view"]
    assert len(views) == 1 and views[0].actor == "admin"
    added = next(entry for entry in entries if entry.action == "device.add")
    assert "Zhang Min" in added.details and "ticket 7" in added.details
    assert not any(FOUND in repr((e.target, e.reason, e.details)) for e in entries)
    assert re.search(r"device\.(add|credential)", " ".join(actions))


def _token(server: Server, name: str, role: str | None) -> dict[str, str]:
    with server.state.sessions() as session:
        user = (
            session.scalar(select(User).where(User.name == name))
            if role is None
            else create_user(session, name, role, f"{name}-Pass-2026")
        )
        assert user is not None
        token = create_api_token(session, user, "devices test")
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_devices_api_validation_and_roles(server: Server) -> None:
    client = server.client()
    admin = _token(server, "admin", None)
    auditor = _token(server, "audrey", "auditor")
    body = {
        "address": "192.0.2.20",
        "type": "switch",
        "authorised_by": "Zhang Min",
        "authorisation": AUTHORISATION,
    }
    refused = [
        ({**body, "password": "x"}, 400),  # unknown field
        ({k: v for k, v in body.items() if k != "authorisation"}, 400),
        ({**body, "port": 0}, 400),
        ({**body, "port": "22"}, 400),
        ({**body, "type": "printer"}, 400),
        ({**body, "address": "x" * 300}, 400),
        ([body], 400),
    ]
    for payload, status in refused:
        answer = client.post("/api/v1/devices", json=payload, headers=admin)
        assert answer.status_code == status, payload
    assert client.post("/api/v1/devices", data="{", headers=admin).status_code == 400
    assert client.post("/api/v1/devices", json=body, headers=auditor).status_code == 403
    assert client.post("/api/v1/devices", json=body).status_code == 401
    assert _devices(server) == []

    created = client.post("/api/v1/devices", json=body, headers=admin)
    assert created.status_code == 201
    device = created.get_json()
    assert device["port"] == 22 and device["authorised_by"] == "Zhang Min"
    assert client.post("/api/v1/devices", json=body, headers=admin).status_code == 409
    listed = client.get("/api/v1/devices", headers=auditor).get_json()
    assert [row["id"] for row in listed["devices"]] == [device["id"]]
    check = f"/api/v1/devices/{device['id']}/check"
    assert client.post(check, json={"x": 1}, headers=admin).status_code == 400
    assert client.post(check, headers=admin).status_code == 202
    assert client.post("/api/v1/devices/999/check", headers=admin).status_code == 404
    credential = f"/api/v1/devices/{device['id']}/credential"
    assert client.get(credential, headers=admin).status_code == 404  # nothing found yet
    assert client.delete(f"/api/v1/devices/{device['id']}", headers=auditor).status_code == 403
    assert client.delete(f"/api/v1/devices/{device['id']}", headers=admin).status_code == 200
    assert client.delete(f"/api/v1/devices/{device['id']}", headers=admin).status_code == 404
    assert client.get("/api/v1/devices", headers=admin).get_json()["devices"] == []
