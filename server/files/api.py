"""``/api/v1/file-events`` (every role: read) and ``/api/v1/groups/<name>/watch`` (read: every
role; replace: admin). Nested in the app's ``api`` blueprint (server/api.py): its token check, and
the operation log's record of every write."""

from __future__ import annotations

import datetime
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from server.files.models import FileEvent
from server.files.policy import WatchPolicyError, validate_watch, watch_section
from server.policy import set_group_policy
from server.state import db_session, refuse
from server.store.models import Agent, Group

MAX_LIMIT = 1000


def make_blueprint() -> Blueprint:
    """These views as a blueprint that ``install(app)`` nests in the app's ``/api/v1`` blueprint
    (server/api.py); made per app, as the parent is."""
    from server.api import token_required

    blueprint = Blueprint("files", __name__)
    blueprint.add_url_rule(
        "/file-events", "file_events", token_required(list_file_events), methods=["GET"]
    )
    blueprint.add_url_rule(
        "/groups/<group_name>/watch", "group_watch", token_required(get_watch), methods=["GET"]
    )
    blueprint.add_url_rule(
        "/groups/<group_name>/watch",
        "group_watch_set",
        token_required(set_watch),
        methods=["PUT"],
    )
    return blueprint


def _time(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="milliseconds") + "Z"


def event_json(event: FileEvent, hostname: str | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "host": {"id": event.agent_id, "hostname": hostname},
        "action": event.action,
        "path": event.path,
        "from_path": event.from_path,
        "folder": event.folder,
        "folder_kind": event.folder_kind,
        "sha256": event.sha256,
        "size": event.size,
        "owner": event.owner,
        "mtime": _time(event.mtime),
        "observed_at": _time(event.observed_at),
        "received_at": _time(event.received_at),
        "count": event.count,
        "summarised_action": event.summarised_action,
        "findings": event.findings or [],
    }


def list_file_events() -> ResponseReturnValue:
    args = request.args
    unknown = sorted(set(args) - {"host", "findings", "limit", "before"})
    if unknown:
        return refuse(400, f"unknown parameter {unknown[0]!r}")
    raw_limit = args.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        return refuse(400, f"limit must be a whole number 1..{MAX_LIMIT}")
    statement = (
        select(FileEvent, Agent.hostname)
        .join(Agent, Agent.id == FileEvent.agent_id)
        .order_by(FileEvent.id.desc())
        .limit(int(raw_limit))
    )
    host = args.get("host")
    if host is not None:
        if len(host) > 36:
            return refuse(400, "host must be an agent id")
        statement = statement.where(FileEvent.agent_id == host)
    before = args.get("before")
    if before is not None:
        if not before.isdigit() or len(before) > 18:
            return refuse(400, "before must be an event id")
        statement = statement.where(FileEvent.id < int(before))
    findings = args.get("findings")
    if findings not in {None, "only"}:
        return refuse(400, "findings must be 'only' when given")
    with db_session() as session:
        rows = session.execute(statement).all()
    events = [event_json(event, hostname) for event, hostname in rows]
    if findings == "only":
        # The findings column is JSON (JSONB on PostgreSQL): filtered here for both databases;
        # a page may then hold fewer than `limit` events, and `before` pages on.
        events = [event for event in events if event["findings"]]
    next_before = rows[-1][0].id if len(rows) == int(raw_limit) else None
    return jsonify({"events": events, "next_before": next_before})


def _group(session: Any, name: str) -> Group | None:
    if len(name) > 64:
        return None
    return session.scalar(select(Group).where(Group.name == name))


def get_watch(group_name: str) -> ResponseReturnValue:
    with db_session() as session:
        group = _group(session, group_name)
        if group is None:
            return jsonify({"error": "no such group"}), 404
        return jsonify(watch_section(group.policy or {}))


def set_watch(group_name: str) -> ResponseReturnValue:
    owner = g.api_owner
    if owner.role != "admin":
        return refuse(403, f"role {owner.role} may not change watch settings ({owner.user_name})")
    try:
        watch = validate_watch(request.get_json(silent=True))
    except WatchPolicyError as exc:
        return refuse(400, str(exc))
    with db_session() as session:
        group = _group(session, group_name)
        if group is None:
            return jsonify({"error": "no such group"}), 404
        version = replace_watch(session, group, watch)
        session.commit()
    return jsonify({**watch, "policy_version": version})


def replace_watch(session: Any, group: Group, watch: dict[str, Any]) -> int:
    """Store the (validated) watch section; bumps the group's policy version."""
    policy = dict(group.policy or {})
    policy["watch"] = watch
    return set_group_policy(session, group, policy)
