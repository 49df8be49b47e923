"""The REST API for scripts and auditors: ``Authorization: Bearer <api token>``.

Roles: every valid token may read; only admin and operator tokens may queue commands.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from server.openapi import openapi_document
from server.state import current_state, db_session, events, log_refusal, refuse
from server.store.accounts import TokenOwner, authenticate_api_token
from server.store.agents import queue_command
from server.store.queries import get_host, inventory, latest_results, list_hosts
from xunjian.core.contract import COMMAND_TYPES

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_OFFSET = 10_000_000
WRITER_ROLES = ("admin", "operator")

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        return None
    return token.strip()


def token_required(view: View) -> View:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        token = _bearer_token()
        if token is None:
            return refuse(401, "missing or malformed bearer token")
        with db_session() as session:
            owner = authenticate_api_token(session, token)
        if owner is None:
            return refuse(401, "unknown or revoked API token")
        g.api_owner = owner
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _owner() -> TokenOwner:
    owner: TokenOwner = g.api_owner
    return owner


def _int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 9 or not low <= int(raw) <= high:
        raise _BadParameter(f"{name} must be a whole number {low}..{high}")
    return int(raw)


class _BadParameter(Exception):
    pass


@blueprint.errorhandler(_BadParameter)
def _bad_parameter(error: _BadParameter) -> ResponseReturnValue:
    return refuse(400, str(error))


@blueprint.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(openapi_document())


@blueprint.get("/hosts")
@token_required
def hosts() -> ResponseReturnValue:
    limit = _int_param("limit", DEFAULT_PAGE, 1, MAX_PAGE)
    offset = _int_param("offset", 0, 0, MAX_OFFSET)
    state = current_state()
    with db_session() as session:
        rows, total = list_hosts(session, state.config.offline_after_seconds, limit, offset)
    return jsonify(
        {
            "hosts": [row.as_json() for row in rows],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


@blueprint.get("/hosts/<host_id>/results")
@token_required
def host_results(host_id: str) -> ResponseReturnValue:
    state = current_state()
    with db_session() as session:
        host = get_host(session, host_id, state.config.offline_after_seconds)
        if host is None:
            return jsonify({"error": "no such host"}), 404
        return jsonify(
            {
                "host": host.as_json(),
                "results": latest_results(session, host_id),
                "inventory": inventory(session, host_id),
            }
        )


@blueprint.post("/hosts/<host_id>/commands")
@token_required
def host_command(host_id: str) -> ResponseReturnValue:
    owner = _owner()
    if owner.role not in WRITER_ROLES:
        return refuse(403, f"role {owner.role} may not queue commands ({owner.user_name})")
    payload = request.get_json(silent=True)
    if (
        not isinstance(payload, dict)
        or set(payload) != {"type"}
        or payload["type"] not in COMMAND_TYPES
    ):
        return refuse(400, f'body must be {{"type": one of {", ".join(COMMAND_TYPES)}}}')
    state = current_state()
    with db_session() as session:
        host = get_host(session, host_id, state.config.offline_after_seconds)
        if host is None:
            return jsonify({"error": "no such host"}), 404
        if host.revoked:
            log_refusal(409, f"host {host_id} is revoked")
            return jsonify({"error": "host is revoked"}), 409
        command = queue_command(session, host_id, payload["type"], owner.user_id)
        session.commit()
    events.info(
        "user %s queued %s for host %s (command %s)",
        owner.user_name,
        command.type,
        host_id,
        command.id,
    )
    return jsonify({"id": command.id, "type": command.type}), 201
