"""``/api/v1/incidents``: list and read incidents and download the report (any role); open,
note, acknowledge and close (admin and operator). Nested in the app's ``api`` blueprint
(server/api.py): its token check, its JSON refusals, and the operation log's record of every
write (``api.incident_open``, ``api.incident_note``, ``api.incident_ack``,
``api.incident_close``, ``api.incident_alerts``, refusals included); a report download is
recorded as ``api.incident_report`` (A1: every export of audit data is logged)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue
from msgspec import UNSET
from sqlalchemy import func, select

from server.apidoc import documented
from server.incidents import schemas
from server.incidents.models import Incident, status_of
from server.incidents.report import MEDIA_TYPE, build_report, report_filename
from server.incidents.store import (
    IncidentError,
    Record,
    acknowledge,
    add_note,
    attach_alert,
    close,
    load_record,
    may_change_incidents,
    open_incident,
    where_status,
)
from server.rest import read_body, read_query, reply
from server.state import current_state, db_session, refuse

_WRITE_REFUSALS = {
    403: "the token's role may not change incidents",
    404: "no such incident (or alert, host)",
    409: "not in this state (closed; the alert has an incident already)",
}


def make_blueprint() -> Blueprint:
    from server.api import token_required

    blueprint = Blueprint("incidents", __name__)
    blueprint.add_url_rule(
        "/incidents", "incidents", token_required(list_incidents), methods=["GET"]
    )
    blueprint.add_url_rule(
        "/incidents", "incident_open", token_required(open_view), methods=["POST"]
    )
    blueprint.add_url_rule(
        "/incidents/<int:incident_id>", "incident", token_required(get_view), methods=["GET"]
    )
    blueprint.add_url_rule(
        "/incidents/<int:incident_id>/report",
        "incident_report",
        token_required(report_view),
        methods=["GET"],
    )
    for action, view in (
        ("note", note_view),
        ("ack", ack_view),
        ("close", close_view),
        ("alerts", alerts_view),
    ):
        blueprint.add_url_rule(
            f"/incidents/<int:incident_id>/{action}",
            f"incident_{action}",
            token_required(view),
            methods=["POST"],
        )
    return blueprint


def _time(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def _host(incident: Incident) -> dict[str, Any] | None:
    if incident.agent_id is None and not incident.hostname:
        return None
    return {"id": incident.agent_id, "hostname": incident.hostname}


def incident_json(record: Record) -> dict[str, Any]:
    incident = record.incident
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "status": status_of(incident),
        "host": _host(incident),
        "alert_ids": [alert.id for alert in record.alerts],
        "opened_at": _time(incident.opened_at),
        "opened_by": incident.opened_by,
        "acknowledged_at": _time(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "closed_at": _time(incident.closed_at),
        "closed_by": incident.closed_by,
        "timeline": [
            {
                "at": _time(event.at),
                "kind": event.kind,
                "actor": event.actor,
                "text": event.text,
                "details": event.details or {},
            }
            for event in record.timeline
        ],
        "notifications": [
            {
                "channel": item.channel,
                "tier": item.tier,
                "status": item.status,
                "attempts": item.attempts,
                "sent_at": _time(item.sent_at),
                "last_error": item.last_error,
            }
            for item in record.notifications
        ],
        "evidence_sha256": [digest for _name, digest in record.evidence()],
    }


@documented(
    "Incidents, newest first",
    auth="bearer",
    tags=["incidents"],
    query=schemas.IncidentsQuery,
    responses={200: schemas.IncidentPage},
)
def list_incidents() -> ResponseReturnValue:
    query = read_query(schemas.IncidentsQuery)
    statement = where_status(select(Incident), query.status)
    with db_session() as session:
        total = session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = session.scalars(
            statement.order_by(Incident.id.desc()).limit(query.limit).offset(query.offset)
        ).all()
        incidents = [
            {
                "id": row.id,
                "title": row.title,
                "severity": row.severity,
                "status": status_of(row),
                "host": _host(row),
                "opened_at": _time(row.opened_at),
                "acknowledged_by": row.acknowledged_by,
                "closed_at": _time(row.closed_at),
            }
            for row in rows
        ]
    return reply(
        schemas.IncidentPage,
        {"incidents": incidents, "total": total, "limit": query.limit, "offset": query.offset},
    )


def _writer() -> tuple[str | None, ResponseReturnValue | None]:
    from server.api import owner

    caller = owner()
    if not may_change_incidents(caller.role):
        return None, refuse(
            403, f"role {caller.role} may not change incidents ({caller.user_name})"
        )
    return str(caller.user_name), None


@documented(
    "Open an incident from an alert or for a host (admin and operator tokens)",
    auth="bearer",
    tags=["incidents"],
    body=schemas.NewIncident,
    responses={201: schemas.Incident},
    errors=_WRITE_REFUSALS,
)
def open_view() -> ResponseReturnValue:
    actor, refused = _writer()
    if refused is not None:
        return refused
    assert actor is not None
    body = read_body(schemas.NewIncident)
    with db_session() as session:
        try:
            opened = open_incident(
                session,
                actor,
                alert_id=None if body.alert_id is UNSET else body.alert_id,
                host_id=None if body.host_id is UNSET else body.host_id,
                title=None if body.title is UNSET else body.title,
                severity=None if body.severity is UNSET else body.severity,
                note=None if body.note is UNSET else body.note,
            )
        except IncidentError as exc:
            return refuse(exc.status, str(exc))
        incident_id = opened.incident.id
        answer = reply(schemas.Incident, incident_json(load_record(session, incident_id)), 201)
    from server.oplog.hook import record

    # Named here: the request's path names no incident yet (the hook's target would be empty).
    record(
        "api.incident_open",
        target=f"incident:{incident_id}",
        details={"alert_id": opened.alert_ids[0] if opened.alert_ids else None},
    )
    return answer


@documented(
    "One incident with its alerts, timeline, notifications and evidence hashes",
    auth="bearer",
    tags=["incidents"],
    responses={200: schemas.Incident},
    errors={404: "no such incident"},
)
def get_view(incident_id: int) -> ResponseReturnValue:
    with db_session() as session:
        try:
            return reply(schemas.Incident, incident_json(load_record(session, incident_id)))
        except IncidentError as exc:
            return refuse(exc.status, str(exc))


@documented(
    "The incident report for the higher authority, in Chinese, as DOCX to print and sign",
    auth="bearer",
    tags=["incidents"],
    responses={200: MEDIA_TYPE},
    errors={404: "no such incident"},
    description="Made from the record when asked (facts, alerts, what was done, who was told, "
    "evidence hashes, a signature block). Every download is in the operation log.",
)
def report_view(incident_id: int) -> ResponseReturnValue:
    from server.api import owner
    from server.oplog.hook import record

    caller = owner()
    with db_session() as session:
        try:
            loaded = load_record(session, incident_id)
        except IncidentError as exc:
            return refuse(exc.status, str(exc))
        document = build_report(
            loaded,
            timezone=current_state().config.console_timezone,
            generated_by=str(caller.user_name),
        )
    record("api.incident_report", target=f"incident:{incident_id}")
    return _docx(document, incident_id)


def _docx(document: bytes, incident_id: int) -> Response:
    response = Response(document, mimetype=MEDIA_TYPE)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{report_filename(incident_id)}"'
    )
    return response


def _change(incident_id: int, action: str) -> ResponseReturnValue:
    actor, refused = _writer()
    if refused is not None:
        return refused
    assert actor is not None
    with db_session() as session:
        try:
            if action == "note":
                body = read_body(schemas.NewNote)
                add_note(session, incident_id, actor, body.text)
            elif action == "alerts":
                link = read_body(schemas.AlertLink)
                attach_alert(session, incident_id, link.alert_id, actor)
            else:
                change = read_body(schemas.IncidentChange, optional=True)
                note = None if change.note is UNSET else change.note
                if action == "ack":
                    acknowledge(session, incident_id, actor, note)
                else:
                    close(session, incident_id, actor, note)
        except IncidentError as exc:
            return refuse(exc.status, str(exc))
        return reply(
            schemas.Incident,
            incident_json(load_record(session, incident_id)),
            201 if action in ("note", "alerts") else 200,
        )


@documented(
    "Add a note to an incident's timeline (admin and operator tokens)",
    auth="bearer",
    tags=["incidents"],
    body=schemas.NewNote,
    responses={201: schemas.Incident},
    errors=_WRITE_REFUSALS,
)
def note_view(incident_id: int) -> ResponseReturnValue:
    return _change(incident_id, "note")


@documented(
    "Tie one more alert to an incident (admin and operator tokens)",
    auth="bearer",
    tags=["incidents"],
    body=schemas.AlertLink,
    responses={201: schemas.Incident},
    errors=_WRITE_REFUSALS,
)
def alerts_view(incident_id: int) -> ResponseReturnValue:
    return _change(incident_id, "alerts")


@documented(
    "Acknowledge an incident: its escalation stops (admin and operator tokens)",
    auth="bearer",
    tags=["incidents"],
    body=schemas.IncidentChange,
    responses={200: schemas.Incident},
    errors=_WRITE_REFUSALS,
)
def ack_view(incident_id: int) -> ResponseReturnValue:
    return _change(incident_id, "ack")


@documented(
    "Close an incident, with an optional summary note (admin and operator tokens)",
    auth="bearer",
    tags=["incidents"],
    body=schemas.IncidentChange,
    responses={200: schemas.Incident},
    errors=_WRITE_REFUSALS,
)
def close_view(incident_id: int) -> ResponseReturnValue:
    return _change(incident_id, "close")
