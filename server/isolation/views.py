"""The console's isolation form (docs/incidents.md): on a host's page and on an alert's page,
admins and operators isolate the host, or release it, with a reason. Each is one operation log
entry naming the host, the reason, the command and its generation; a refusal is one too."""

from __future__ import annotations

from flask import abort, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from server.console.auth import console_blueprint, login_required
from server.isolation import store
from server.oplog.hook import record
from server.state import current_state, db_session, events, log_refusal
from server.store.models import User

blueprint = console_blueprint("isolation", __name__)
ISOLATION_ROLES = ("admin", "operator")
HOST_ID_MAX = 36
ALERT_ID_MAX = 2**31 - 1


def _back(host_id: str, done: str) -> ResponseReturnValue:
    """To the page the form was on: an alert's (``alert`` field, a whole number), else the
    host's. Never a URL from the form."""
    alert = request.form.get("alert", "")
    if alert.isdigit() and len(alert) <= 10 and 0 < int(alert) <= ALERT_ID_MAX:
        return redirect(url_for("alerts.detail", alert_id=int(alert), isolation=done))
    return redirect(url_for("fleet.host", host_id=host_id, isolation=done) + "#isolation")


@blueprint.post("/hosts/<host_id>/isolation")
@login_required
def change(host_id: str) -> ResponseReturnValue:
    user: User = g.user
    wanted = request.form.get("action", "")
    action = f"console.host.{wanted if wanted in store.ACTIONS else 'isolation'}"
    target = f"host:{host_id[:HOST_ID_MAX]}"
    if user.role not in ISOLATION_ROLES:
        log_refusal(403, f"console user {user.name!r} ({user.role}) may not isolate hosts")
        record(action, outcome="refused", reason="HTTP 403", target=target)
        abort(403)
    reason = request.form.get("reason", "")
    try:
        if len(host_id) > HOST_ID_MAX:
            raise store.IsolationRefused(404, "no such host")
        if len(reason) > 4 * store.ISOLATION_REASON_MAX:
            raise store.IsolationRefused(400, "reason: too long")
        with db_session() as db:
            queued = store.request(
                db, current_state().paths.root, host_id, wanted, reason, user.name, user.id
            )
            db.commit()
    except store.IsolationRefused as exc:
        log_refusal(exc.status, f"console: {exc.reason}")
        record(action, outcome="refused", reason=exc.reason, target=target)
        shown = {
            400: _("Say why, in at most %(n)d characters.", n=store.ISOLATION_REASON_MAX),
            404: _("There is no such host."),
            409: _("That cannot be done to this host now: %(why)s", why=exc.reason),
        }
        abort(exc.status, shown.get(exc.status, exc.reason))
    record(
        action,
        target=target,
        details={
            "reason": queued.reason,
            "command": queued.command_id,
            "generation": queued.generation,
        },
    )
    events.info("user %s: %s host %s: %s", user.name, wanted, host_id, queued.reason)
    return _back(host_id, queued.action)
