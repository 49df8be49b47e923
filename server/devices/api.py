"""``/api/v1/devices``: list (any role), add (admin, with the authorisation), mark due for a
check (admin and operator), and the found credential (admin only; each view is recorded in the
operation log as a view of secret data, POLICY.md A1). Nested in the app's ``api`` blueprint
(server/api.py) like the alerts' views: one token check, one error handling."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import update

from server.apidoc import documented
from server.devices import schemas
from server.devices.models import Device
from server.devices.store import (
    DeviceError,
    add_device,
    get_device,
    list_devices,
    remove_device,
    unseal,
    validate,
)
from server.oplog.hook import record
from server.rest import read_body, reply
from server.state import current_state, db_session, events, refuse
from server.store.models import utcnow
from xunjian.core.schema import BodyError, convert

CHECK_ROLES = ("admin", "operator")


def make_blueprint() -> Blueprint:
    """These views as a blueprint that ``install(app)`` nests in the app's ``/api/v1`` blueprint
    (server/api.py); made per app, as the parent is."""
    from server.api import token_required

    blueprint = Blueprint("devices", __name__)
    blueprint.add_url_rule("/devices", "devices", token_required(devices), methods=["GET"])
    blueprint.add_url_rule("/devices", "device_add", token_required(device_add), methods=["POST"])
    blueprint.add_url_rule(
        "/devices/<int:device_id>",
        "device_remove",
        token_required(device_remove),
        methods=["DELETE"],
    )
    blueprint.add_url_rule(
        "/devices/<int:device_id>/check",
        "device_check",
        token_required(device_check),
        methods=["POST"],
    )
    blueprint.add_url_rule(
        "/devices/<int:device_id>/credential",
        "device_credential",
        token_required(device_credential),
        methods=["GET"],
    )
    return blueprint


def _owner() -> Any:
    from server.api import owner

    return owner()


@documented(
    "Network devices checked over SSH, with their last outcome",
    auth="bearer",
    tags=["devices"],
    responses={200: schemas.DeviceList},
)
def devices() -> ResponseReturnValue:
    with db_session() as session:
        rows = [device.summary() for device in list_devices(session)]
    return reply(schemas.DeviceList, {"devices": rows, "total": len(rows)})


def new_device_from(payload: Any) -> Any:
    """A validated NewDevice from a JSON body or a dict; DeviceError says what is wrong."""
    try:
        body = (
            payload
            if isinstance(payload, schemas.NewDevice)
            else convert(payload, schemas.NewDevice)
        )
    except BodyError as error:
        raise DeviceError(str(error)) from None
    return validate(  # the model's bounds again (cheap), then what a model cannot say
        body.address,
        body.port,
        body.type,
        body.label,
        body.key_user,
        body.authorised_by,
        body.authorisation,
    )


@documented(
    "Add a device (admin tokens), with who authorised its checks and the statement",
    auth="bearer",
    tags=["devices"],
    body=schemas.NewDevice,
    responses={201: schemas.Device},
    errors={403: "only admin tokens add devices", 409: "the address and port are known"},
)
def device_add() -> ResponseReturnValue:
    owner = _owner()
    if owner.role != "admin":
        return refuse(403, f"role {owner.role} may not add devices ({owner.user_name})")
    try:
        new = new_device_from(read_body(schemas.NewDevice))
    except DeviceError as exc:
        return refuse(400, str(exc))
    with db_session() as session:
        try:
            device = add_device(session, new, owner.user_name)
        except DeviceError as exc:
            session.rollback()
            return refuse(409, str(exc))
        session.commit()
        summary = device.summary()
    record_added(summary)
    return reply(schemas.Device, summary, 201)


def record_added(summary: dict[str, Any]) -> None:
    events.info(
        "device %s added (%s:%s, %s), authorised by %s",
        summary["id"],
        summary["address"],
        summary["port"],
        summary["type"],
        summary["authorised_by"],
    )
    record(
        "device.add",
        target=f"device:{summary['id']}",
        details={
            key: summary[key]
            for key in ("address", "port", "type", "authorised_by", "authorisation")
        },
    )


def remove(device_id: int) -> dict[str, Any] | None:
    """Remove a device (its results and alerts go with it); the removal is an oplog entry."""
    with db_session() as session:
        device = remove_device(session, device_id)
        if device is None:
            return None
        removed = {"id": device_id, "address": device.address, "port": device.port}
        session.commit()
    events.info("device %s removed (%s:%s)", device_id, removed["address"], removed["port"])
    record("device.remove", target=f"device:{device_id}", details=removed)
    return removed


@documented(
    "Remove a device with its results and alerts (admin tokens)",
    auth="bearer",
    tags=["devices"],
    responses={200: schemas.DeviceRemoved},
    errors={403: "only admin tokens remove devices"},
)
def device_remove(device_id: int) -> ResponseReturnValue:
    owner = _owner()
    if owner.role != "admin":
        return refuse(403, f"role {owner.role} may not remove devices ({owner.user_name})")
    removed = remove(device_id)
    if removed is None:
        return jsonify({"error": "no such device"}), 404
    return reply(schemas.DeviceRemoved, {**removed, "removed": True})


def mark_due(device_id: int) -> bool:
    with db_session() as session:
        changed = session.execute(
            update(Device).where(Device.id == device_id).values(due_at=utcnow())
        ).rowcount
        session.commit()
    return bool(changed)


@documented(
    "Check a device at the next sweep (admin and operator tokens)",
    auth="bearer",
    tags=["devices"],
    body=schemas.EmptyBody,
    responses={202: schemas.CheckQueued},
    errors={403: "the token's role may not start device checks"},
)
def device_check(device_id: int) -> ResponseReturnValue:
    owner = _owner()
    if owner.role not in CHECK_ROLES:
        return refuse(403, f"role {owner.role} may not start device checks ({owner.user_name})")
    read_body(schemas.EmptyBody, optional=True)
    if not mark_due(device_id):
        return jsonify({"error": "no such device"}), 404
    sweep = current_state().config.device_sweep_seconds
    return reply(schemas.CheckQueued, {"id": device_id, "due": True, "within_seconds": sweep}, 202)


def reveal_credential(device_id: int) -> tuple[int, dict[str, Any]]:
    """(status, body) for an admin: the found user and password, recorded in the oplog."""
    with db_session() as session:
        device = get_device(session, device_id)
        if device is None:
            return 404, {"error": "no such device"}
        user, sealed, found_at = (
            device.credential_user,
            device.credential_secret,
            device.credential_found_at,
        )
    if user is None or sealed is None:
        return 404, {"error": "no default credential was found on this device"}
    password = unseal(current_state().paths.root, sealed)
    record(
        "device.credential.view",
        target=f"device:{device_id}",
        details={"user": user, "decrypted": password is not None},
    )
    if password is None:
        return 500, {"error": "the stored credential cannot be decrypted (secret key changed?)"}
    return 200, {
        "device_id": device_id,
        "user": user,
        "password": password,
        "found_at": found_at.isoformat() + "Z" if found_at else None,
    }


@documented(
    "The default credential found on a device (admin tokens; each view is logged)",
    auth="bearer",
    tags=["devices"],
    responses={200: schemas.FoundCredential},
    errors={
        403: "only admin tokens see found credentials",
        500: "the stored credential cannot be decrypted (the secret key changed)",
    },
)
def device_credential(device_id: int) -> ResponseReturnValue:
    owner = _owner()
    if owner.role != "admin":
        return refuse(403, f"only admins see found credentials ({owner.user_name})")
    status, body = reveal_credential(device_id)
    response = reply(schemas.FoundCredential, body, status) if status == 200 else jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, status
