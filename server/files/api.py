"""``/api/v1/file-events`` (every role: read) and ``/api/v1/groups/<name>/watch`` (read: every
role; replace: admin). Nested in the app's ``api`` blueprint (server/api.py): its token check, and
the operation log's record of every write."""

from __future__ import annotations

import datetime
from typing import Any

from flask import Blueprint, g, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from server.apidoc import documented
from server.files import schemas
from server.files.models import FileEvent
from server.files.policy import WatchPolicyError, validate_watch, watch_section
from server.policy import set_group_policy
from server.rest import read_body, read_query, reply
from server.state import db_session, refuse
from server.store.models import Agent, Group


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


@documented(
    "File events reported by the agents' watchers, newest first",
    auth="bearer",
    tags=["files"],
    query=schemas.FileEventsQuery,
    responses={200: schemas.FileEventPage},
    description="Page on with ?before=<next_before>; with findings=only a page may hold "
    "fewer than limit events.",
)
def list_file_events() -> ResponseReturnValue:
    query = read_query(schemas.FileEventsQuery)
    statement = (
        select(FileEvent, Agent.hostname)
        .join(Agent, Agent.id == FileEvent.agent_id)
        .order_by(FileEvent.id.desc())
        .limit(query.limit)
    )
    if query.host is not None:
        statement = statement.where(FileEvent.agent_id == query.host)
    if query.before is not None:
        statement = statement.where(FileEvent.id < query.before)
    with db_session() as session:
        rows = session.execute(statement).all()
    events = [event_json(event, hostname) for event, hostname in rows]
    if query.findings == "only":
        # The findings column is JSON (JSONB on PostgreSQL): filtered here for both databases;
        # a page may then hold fewer than `limit` events, and `before` pages on.
        events = [event for event in events if event["findings"]]
    next_before = rows[-1][0].id if len(rows) == query.limit else None
    return reply(schemas.FileEventPage, {"events": events, "next_before": next_before})


def _group(session: Any, name: str) -> Group | None:
    if len(name) > 64:
        return None
    return session.scalar(select(Group).where(Group.name == name))


@documented(
    "A group's watched folders and sensitive words",
    auth="bearer",
    tags=["files"],
    responses={200: schemas.WatchSettings},
)
def get_watch(group_name: str) -> ResponseReturnValue:
    with db_session() as session:
        group = _group(session, group_name)
        if group is None:
            return jsonify({"error": "no such group"}), 404
        return reply(schemas.WatchSettings, watch_section(group.policy or {}))


@documented(
    "Replace a group's watch settings (admin tokens); agents get them with the next policy",
    auth="bearer",
    tags=["files"],
    body=schemas.WatchSettings,
    responses={200: schemas.WatchSaved},
    errors={403: "only admin tokens change watch settings"},
)
def set_watch(group_name: str) -> ResponseReturnValue:
    owner = g.api_owner
    if owner.role != "admin":
        return refuse(403, f"role {owner.role} may not change watch settings ({owner.user_name})")
    try:
        watch = validate_watch(read_body(schemas.WatchSettings))
    except WatchPolicyError as exc:
        return refuse(400, str(exc))
    with db_session() as session:
        group = _group(session, group_name)
        if group is None:
            return jsonify({"error": "no such group"}), 404
        version = replace_watch(session, group, watch)
        session.commit()
    return reply(schemas.WatchSaved, {**watch, "policy_version": version})


def replace_watch(session: Any, group: Group, watch: dict[str, Any]) -> int:
    """Store the (validated) watch section; bumps the group's policy version."""
    policy = dict(group.policy or {})
    policy["watch"] = watch
    return set_group_policy(session, group, policy)
