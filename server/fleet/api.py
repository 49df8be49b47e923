"""``/api/v1/hosts``: enrolled hosts, a host's latest results, and commands queued for a host
(docs/architecture.md, "The REST API"). Nested in the app's ``api`` blueprint (server/api.py),
which checks the token and logs every write."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from server.api import WRITER_ROLES, owner, token_required
from server.apidoc import documented
from server.fleet.schemas import CommandRequest, HostPage, HostResults, HostsQuery, QueuedCommand
from server.fleet.store import get_host, list_hosts
from server.rest import read_body, read_query, reply
from server.state import current_state, db_session, events, log_refusal, refuse
from server.store.agents import queue_command
from server.store.queries import inventory, latest_results

blueprint = Blueprint("hosts", __name__)


def make_blueprint() -> Blueprint:
    """The host views, nested in the app's ``/api/v1`` blueprint by ``install(app)``."""
    return blueprint


@blueprint.get("/hosts")
@documented(
    "Enrolled hosts with their online state and failing check count",
    auth="bearer",
    tags=["hosts"],
    query=HostsQuery,
    responses={200: HostPage},
)
@token_required
def hosts() -> ResponseReturnValue:
    page = read_query(HostsQuery)
    state = current_state()
    with db_session() as session:
        rows, total = list_hosts(
            session, state.config.offline_after_seconds, page.limit, page.offset
        )
    return reply(
        HostPage,
        {
            "hosts": [row.as_json() for row in rows],
            "total": total,
            "limit": page.limit,
            "offset": page.offset,
        },
    )


@blueprint.get("/hosts/<host_id>/results")
@documented(
    "A host's latest result per check and resource, and its inventory",
    auth="bearer",
    tags=["hosts"],
    responses={200: HostResults},
)
@token_required
def host_results(host_id: str) -> ResponseReturnValue:
    state = current_state()
    with db_session() as session:
        host = get_host(session, host_id, state.config.offline_after_seconds)
        if host is None:
            return jsonify({"error": "no such host"}), 404
        return reply(
            HostResults,
            {
                "host": host.as_json(),
                "results": latest_results(session, host_id),
                "inventory": inventory(session, host_id),
            },
        )


@blueprint.post("/hosts/<host_id>/commands")
@documented(
    "Queue a command for a host (admin and operator tokens)",
    auth="bearer",
    tags=["hosts"],
    body=CommandRequest,
    responses={201: QueuedCommand},
    errors={403: "the token's role may not queue commands", 409: "the host is revoked"},
)
@token_required
def host_command(host_id: str) -> ResponseReturnValue:
    who = owner()
    if who.role not in WRITER_ROLES:
        return refuse(403, f"role {who.role} may not queue commands ({who.user_name})")
    wanted = read_body(CommandRequest)
    state = current_state()
    with db_session() as session:
        host = get_host(session, host_id, state.config.offline_after_seconds)
        if host is None:
            return jsonify({"error": "no such host"}), 404
        if host.revoked:
            log_refusal(409, f"host {host_id} is revoked")
            return jsonify({"error": "host is revoked"}), 409
        command = queue_command(session, host_id, wanted.type, who.user_id)
        session.commit()
    events.info(
        "user %s queued %s for host %s (command %s)",
        who.user_name,
        command.type,
        host_id,
        command.id,
    )
    return reply(QueuedCommand, {"id": command.id, "type": command.type}, 201)
