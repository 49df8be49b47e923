"""The console's Devices page: the inventory with each device's last check, the add form with
its authorisation (admin), "check now" (admin and operator) and the found password (admin only,
shown after a POST and recorded in the operation log). Auditors read the list, never a password.
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.routing import BuildError

from server.console.auth import console_blueprint, login_required, roles_required
from server.console.nav import NavItem
from server.devices.api import mark_due, record_added, remove, reveal_credential
from server.devices.labels import TYPE_LABELS, outcome_label, type_label
from server.devices.models import DEVICE_TYPES
from server.devices.remote import public_key_line
from server.devices.store import DeviceError, add_device, list_devices, mark_all_due, validate
from server.state import current_state, db_session, log_refusal

blueprint = console_blueprint("devices", __name__, template_folder="templates")

NAV = (NavItem("devices.devices", _l("Devices"), 60),)

CHECK_ROLES = ("admin", "operator")


def _host_url(host_id: str) -> str | None:
    for endpoint in ("fleet.host", "console.host"):
        try:
            return url_for(endpoint, host_id=host_id)
        except BuildError:
            continue
    return None


def _page(
    form: dict[str, str] | None = None,
    problem: str | None = None,
    revealed: dict[str, Any] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    with db_session() as session:
        rows = [device.summary() for device in list_devices(session)]
    for row in rows:
        row["host_url"] = _host_url(row["host_id"])
        row["outcome_label"] = outcome_label(row["last_outcome"])
        row["type_label"] = type_label(row["type"])
    role = g.user.role
    org_key = None
    if role in CHECK_ROLES:
        try:
            org_key = public_key_line(current_state().paths.root)
        except (OSError, ValueError):
            org_key = None
    return (
        render_template(
            "devices/devices.html",
            devices=rows,
            types=[(name, TYPE_LABELS[name]) for name in DEVICE_TYPES],
            may_add=role == "admin",
            may_check=role in CHECK_ROLES,
            may_reveal=role == "admin",
            org_key=org_key,
            form=form or {"port": "22", "key_user": "root"},
            problem=problem,
            revealed=revealed,
            notice=request.args.get("notice"),
        ),
        status,
    )


@blueprint.get("/devices")
@login_required
def devices() -> ResponseReturnValue:
    return _page()


@blueprint.post("/devices/add")
@roles_required("admin")
def add() -> ResponseReturnValue:
    fields = ("address", "port", "type", "label", "key_user", "authorised_by", "authorisation")
    form = {name: request.form.get(name, "")[:2000] for name in fields}
    if request.form.get("confirm") != "yes":
        log_refusal(400, "console: device add without the authorisation confirmation")
        return _page(
            form,
            _("Tick the box to confirm the organisation owns this device and allows the checks."),
            status=400,
        )
    port = form["port"].strip() or "22"
    try:
        new = validate(
            form["address"],
            int(port) if port.isdigit() and len(port) <= 5 else -1,
            form["type"],
            form["label"],
            form["key_user"].strip() or "root",
            form["authorised_by"],
            form["authorisation"],
        )
    except DeviceError as exc:
        log_refusal(400, f"console: device add refused: {exc}")
        return _page(form, _("Not added: %(reason)s", reason=str(exc)), status=400)
    with db_session() as session:
        try:
            device = add_device(session, new, g.user.name)
        except DeviceError as exc:
            session.rollback()
            log_refusal(409, f"console: {exc}")
            return _page(form, _("Not added: %(reason)s", reason=str(exc)), status=409)
        session.commit()
        summary = device.summary()
    record_added(summary)
    notice = _("Device %(label)s added; the server checks it shortly.", label=summary["label"])
    return redirect(url_for("devices.devices", notice=notice))


@blueprint.post("/devices/<int:device_id>/check")
@roles_required(*CHECK_ROLES)
def check(device_id: int) -> ResponseReturnValue:
    if not mark_due(device_id):
        abort(404)
    return redirect(url_for("devices.devices", notice=_("The device will be checked shortly.")))


@blueprint.post("/devices/check")
@roles_required(*CHECK_ROLES)
def check_all() -> ResponseReturnValue:
    with db_session() as session:
        count = mark_all_due(session)
        session.commit()
    notice = _("%(n)d devices will be checked shortly.", n=count)
    return redirect(url_for("devices.devices", notice=notice))


@blueprint.post("/devices/<int:device_id>/credential")
@roles_required("admin")
def credential(device_id: int) -> ResponseReturnValue:
    status, body = reveal_credential(device_id)  # records the view in the operation log
    if status == 404:
        abort(404)
    if status != 200:
        return _page(problem=_("The stored password cannot be decrypted."), status=500)
    return _page(revealed=body)


@blueprint.post("/devices/<int:device_id>/remove")
@roles_required("admin")
def remove_view(device_id: int) -> ResponseReturnValue:
    removed = remove(device_id)  # records the removal in the operation log
    if removed is None:
        abort(404)
    notice = _(
        "Device %(address)s removed with its results and alerts.", address=removed["address"]
    )
    return redirect(url_for("devices.devices", notice=notice))
