"""``/api/v1/alerts``: list alerts (any role); acknowledge, resolve and comment (admin and
operator). The views are nested in the app's ``api`` blueprint (server/api.py) so they share its
token check, its error handling and the operation log's automatic record of every
state-changing request (server/oplog/hook.py logs the ``api`` blueprint's writes)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from flask.typing import ResponseReturnValue
from msgspec import UNSET
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server.alerts import schemas
from server.alerts.actions import AlertActionError, add_comment, change_alert, may_change_alerts
from server.alerts.models import Alert, AlertComment, status_of
from server.apidoc import documented
from server.rest import read_body, read_query, reply
from server.state import db_session, refuse
from server.store.models import Agent


def make_blueprint() -> Blueprint:
    """These views as a blueprint that ``install(app)`` nests in the app's ``/api/v1`` blueprint
    (server/api.py); made per app, as the parent is."""
    from server.api import token_required

    blueprint = Blueprint("alerts", __name__)
    blueprint.add_url_rule("/alerts", "alerts", token_required(list_alerts), methods=["GET"])
    for action, view in (("ack", ack), ("resolve", resolve), ("comment", comment)):
        blueprint.add_url_rule(
            f"/alerts/<int:alert_id>/{action}",
            f"alert_{action}",
            token_required(view),
            methods=["POST"],
        )
    return blueprint


def alert_json(alert: Alert, hostname: str | None, comments: list[AlertComment]) -> dict:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "severity": alert.severity,
        "status": status_of(alert),
        "subject": subject_text(alert, hostname),
        "host": None if alert.agent_id is None else {"id": alert.agent_id, "hostname": hostname},
        "monitor": monitor_of(alert),
        "check_id": alert.check_id or None,
        "resource": alert.resource or None,
        "message": alert.message,
        "opened_at": _time(alert.opened_at),
        "acknowledged_by": alert.acknowledged_by,
        "acknowledged_at": _time(alert.acknowledged_at),
        "resolved_by": alert.resolved_by,
        "resolved_at": _time(alert.resolved_at),
        "comments": [
            {"at": _time(item.at), "author": item.author, "text": item.text} for item in comments
        ],
    }


def monitor_of(alert: Alert) -> dict | None:
    """The page monitor an alert is about (server/monitors puts ``monitor:<id>`` in check_id)."""
    prefix, _, number = alert.check_id.partition(":")
    if alert.agent_id is not None or prefix != "monitor" or not number.isdigit():
        return None
    return {"id": int(number), "url": alert.resource}


def subject_text(alert: Alert, hostname: str | None) -> str:
    parts = [hostname or alert.agent_id or "", alert.check_id, alert.resource]
    return " / ".join(part for part in parts if part)


def _time(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def _filtered(statement: Select[Any], status: str | None) -> Select[Any]:
    if status == "open":
        return statement.where(Alert.resolved_at.is_(None), Alert.acknowledged_at.is_(None))
    if status == "acknowledged":
        return statement.where(Alert.resolved_at.is_(None), Alert.acknowledged_at.is_not(None))
    if status == "resolved":
        return statement.where(Alert.resolved_at.is_not(None))
    return statement


_WRITE_REFUSALS = {403: "the token's role may not change alerts", 409: "not in this state"}


@documented(
    "Alerts, newest first, with their comments",
    auth="bearer",
    tags=["alerts"],
    query=schemas.AlertsQuery,
    responses={200: schemas.AlertPage},
)
def list_alerts() -> ResponseReturnValue:
    query = read_query(schemas.AlertsQuery)
    status, limit, offset = query.status, query.limit, query.offset
    with db_session() as session:
        total = session.scalar(_filtered(select(func.count()).select_from(Alert), status))
        rows = session.execute(
            _filtered(select(Alert, Agent.hostname).outerjoin(Agent), status)
            .order_by(Alert.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
        comments = _comments(session, [alert.id for alert, _hostname in rows])
    return reply(
        schemas.AlertPage,
        {
            "alerts": [
                alert_json(alert, hostname, comments.get(alert.id, [])) for alert, hostname in rows
            ],
            "total": total,
            "limit": limit,
            "offset": offset,
        },
    )


def _comments(session: Session, ids: list[int]) -> dict[int, list[AlertComment]]:
    found: dict[int, list[AlertComment]] = {}
    if ids:
        query = select(AlertComment).where(AlertComment.alert_id.in_(ids))
        for item in session.scalars(query.order_by(AlertComment.id)):
            found.setdefault(item.alert_id, []).append(item)
    return found


def _writer() -> Any:
    from server.api import owner as _owner

    owner = _owner()
    return owner if may_change_alerts(owner.role) else None


def _change(alert_id: int, action: str) -> ResponseReturnValue:
    from server.api import owner as _owner

    owner = _writer()
    if owner is None:
        caller = _owner()
        return refuse(403, f"role {caller.role} may not change alerts ({caller.user_name})")
    body = read_body(schemas.AlertChange, optional=True)
    note = None if body.comment is UNSET else body.comment
    with db_session() as session:
        try:
            alert = change_alert(session, alert_id, action, owner.user_name, note)
        except AlertActionError as exc:
            return refuse(exc.status, str(exc))
        hostname = _hostname(session, alert)
        comments = _comments(session, [alert_id]).get(alert_id, [])
        return reply(schemas.Alert, alert_json(alert, hostname, comments))


@documented(
    "Acknowledge an alert (admin and operator tokens), with an optional comment",
    auth="bearer",
    tags=["alerts"],
    body=schemas.AlertChange,
    responses={200: schemas.Alert},
    errors=_WRITE_REFUSALS,
)
def ack(alert_id: int) -> ResponseReturnValue:
    return _change(alert_id, "ack")


@documented(
    "Resolve an alert (admin and operator tokens), with an optional comment",
    auth="bearer",
    tags=["alerts"],
    body=schemas.AlertChange,
    responses={200: schemas.Alert},
    errors=_WRITE_REFUSALS,
)
def resolve(alert_id: int) -> ResponseReturnValue:
    return _change(alert_id, "resolve")


@documented(
    "Comment on an alert (admin and operator tokens)",
    auth="bearer",
    tags=["alerts"],
    body=schemas.NewComment,
    responses={201: schemas.AlertComment},
    errors=_WRITE_REFUSALS,
)
def comment(alert_id: int) -> ResponseReturnValue:
    from server.api import owner as _owner

    owner = _writer()
    if owner is None:
        caller = _owner()
        return refuse(403, f"role {caller.role} may not comment on alerts ({caller.user_name})")
    body = read_body(schemas.NewComment)
    with db_session() as session:
        try:
            item = add_comment(session, alert_id, owner.user_name, body.text)
        except AlertActionError as exc:
            return refuse(exc.status, str(exc))
        return reply(
            schemas.AlertComment,
            {"at": _time(item.at), "author": item.author, "text": item.text},
            201,
        )


def _hostname(session: Session, alert: Alert) -> str | None:
    if alert.agent_id is None:
        return None
    return session.scalar(select(Agent.hostname).where(Agent.id == alert.agent_id))
