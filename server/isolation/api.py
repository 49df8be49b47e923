"""``/api/v1/hosts/<id>/isolation``: read a host's isolation; isolate or release it with a
reason (admin and operator tokens). Nested in the app's ``api`` blueprint (server/api.py),
which checks the token; each request is one operation log entry with the reason."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from server.api import WRITER_ROLES, owner, token_required
from server.apidoc import documented
from server.isolation import store
from server.isolation.schemas import IsolationQueued, IsolationRequest, IsolationState
from server.oplog.hook import record
from server.rest import read_body, reply
from server.state import current_state, db_session, events, log_refusal
from server.store.models import Agent

blueprint = Blueprint("isolation", __name__)
NOT_ISOLATED = {
    "status": "",
    "wanted": "released",
    "generation": 0,
    "reason": "",
    "requested_by": "",
    "requested_at": None,
    "reported_state": None,
    "reported_at": None,
    "changed_at": None,
    "backend": "",
    "rules": "",
    "error": "",
    "released_by": "",
    "release_reason": "",
}


def make_blueprint() -> Blueprint:
    return blueprint


@blueprint.get("/hosts/<host_id>/isolation")
@documented(
    "A host's isolation: what was asked, and what its agent reported (with the rules it set)",
    auth="bearer",
    tags=["hosts"],
    responses={200: IsolationState},
)
@token_required
def host_isolation(host_id: str) -> ResponseReturnValue:
    with db_session() as session:
        if len(host_id) > 36 or session.get(Agent, host_id) is None:
            return jsonify({"error": "no such host"}), 404
        found = store.isolation_of(session, [host_id]).get(host_id)
    return reply(IsolationState, found.as_json() if found else NOT_ISOLATED)


@blueprint.post("/hosts/<host_id>/isolation")
@documented(
    "Isolate a host (only its link to the server stays) or release it, with a reason",
    auth="bearer",
    tags=["hosts"],
    body=IsolationRequest,
    responses={201: IsolationQueued},
    errors={
        403: "the token's role may not isolate hosts",
        409: "the host is revoked, a device, already isolated, or not isolated",
    },
)
@token_required
def change_isolation(host_id: str) -> ResponseReturnValue:
    who = owner()
    wanted = read_body(IsolationRequest)
    action = f"api.host.{wanted.action}"
    target = f"host:{host_id[:36]}"
    if who.role not in WRITER_ROLES:
        log_refusal(403, f"role {who.role} may not isolate hosts ({who.user_name})")
        record(action, outcome="refused", reason="HTTP 403", target=target)
        return jsonify({"error": f"role {who.role} may not isolate hosts"}), 403
    state = current_state()
    try:
        with db_session() as session:
            if len(host_id) > 36:
                raise store.IsolationRefused(404, "no such host")
            queued = store.request(
                session,
                state.paths.root,
                host_id,
                wanted.action,
                wanted.reason,
                who.user_name,
                who.user_id,
            )
            session.commit()
    except store.IsolationRefused as exc:
        log_refusal(exc.status, exc.reason)
        record(action, outcome="refused", reason=exc.reason, target=target)
        return jsonify({"error": exc.reason}), exc.status
    record(
        action,
        target=target,
        details={
            "reason": queued.reason,
            "command": queued.command_id,
            "generation": queued.generation,
        },
    )
    events.info("user %s: %s host %s: %s", who.user_name, wanted.action, host_id, queued.reason)
    return reply(
        IsolationQueued,
        {
            "command_id": queued.command_id,
            "action": queued.action,
            "generation": queued.generation,
            "reason": queued.reason,
        },
        201,
    )
