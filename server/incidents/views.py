"""The console's Incidents pages: the list (every role), one incident with its timeline, alerts,
escalation and evidence hashes, and the forms to open (from an alert's page), note, acknowledge
and close (admin and operator; an auditor sees no forms and gets a 403 for a POST), and the
report's download (every role that may read incidents).

Changes go through server/incidents/store.py, as the REST API's do. Every POST is an operation
log entry by the request hook (``incidents.open``, ``incidents.note``, ``incidents.ack``,
``incidents.close``, ``incidents.attach``, target ``incident:<id>``, refusals included);
opening names the new incident itself; a report download is ``console.incident.report`` (A1).
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Response, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from server.console.auth import console_blueprint, login_required, roles_required
from server.console.nav import NavItem
from server.incidents.escalation import tier_title
from server.incidents.models import STATUSES, TEXT_LENGTH, TITLE_LENGTH, Incident, status_of
from server.incidents.report import MEDIA_TYPE, build_report, report_filename
from server.incidents.store import (
    IncidentError,
    acknowledge,
    add_note,
    attach_alert,
    clean_text,
    close,
    incident_of_alert,
    load_record,
    may_change_incidents,
    open_incident,
    open_incident_of_host,
    where_status,
)
from server.state import current_state, db_session, log_refusal

blueprint = console_blueprint("incidents", __name__)

NAV = (NavItem("incidents.index", _l("Incidents"), 42),)

PER_PAGE = 50
MAX_ID = 2**63 - 1
WRITER_ROLES = ("admin", "operator")
STATUS_FILTERS = ("unresolved", *STATUSES, "all")
STATUS_LABELS = {
    "open": _l("open"),
    "acknowledged": _l("acknowledged"),
    "closed": _l("closed"),
    "unresolved": _l("not closed"),
    "all": _l("all"),
}
EVENT_LABELS = {
    "opened": _l("opened"),
    "alert": _l("alert"),
    "note": _l("note"),
    "acknowledged": _l("acknowledged"),
    "escalated": _l("reported up the chain"),
    "closed": _l("closed"),
    "isolated": _l("isolated"),
    "released": _l("released from isolation"),
    "evidence": _l("evidence"),
}
DELIVERY_LABELS = {
    "sent": _l("sent"),
    "pending": _l("waiting to send"),
    "failed": _l("failed"),
    "stopped": _l("not sent: acknowledged before"),
}
NOTICES = {
    "open": _l("The incident is open; the on-call roster is told."),
    "note": _l("The note was added."),
    "attach": _l("The alert was added to the incident."),
    "ack": _l("The incident is acknowledged; its escalation stops."),
    "close": _l("The incident is closed."),
}


def _label(labels: dict[str, Any], value: str) -> str:
    return str(labels.get(value, value))


def _refuse(status: int, reason: str, shown: str | None = None) -> NoReturn:
    log_refusal(status, reason)
    abort(status, shown or reason)


def _shown(error: IncidentError) -> str:
    if error.status == 404:
        return _("There is no such incident, alert or host.")
    if error.status == 409:
        return _("This cannot be done in the incident's present state: %(reason)s", reason=error)
    return str(error)


def _status_filter() -> str:
    value = request.args.get("status", "unresolved")
    if value not in STATUS_FILTERS:
        _refuse(
            400, f"status must be one of {', '.join(STATUS_FILTERS)}", _("Unknown filter value.")
        )
    return value


def _before() -> int | None:
    raw = request.args.get("before", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        _refuse(400, "before must be an incident id", _("Unknown filter value."))
    return int(raw)


@blueprint.get("/incidents")
@login_required
def index() -> ResponseReturnValue:
    status = _status_filter()
    before = _before()
    statement = where_status(select(Incident), status)
    with db_session() as session:
        total = session.scalar(select(func.count()).select_from(statement.subquery()))
        if before is not None:
            statement = statement.where(Incident.id < before)
        rows = list(session.scalars(statement.order_by(Incident.id.desc()).limit(PER_PAGE + 1)))
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    return render_template(
        "incidents/list.html",
        incidents=[(row, status_of(row)) for row in rows],
        total=total or 0,
        status=status,
        statuses=STATUS_FILTERS,
        label=_label,
        status_labels=STATUS_LABELS,
        before=before,
        next_before=rows[-1].id if more and rows else None,
    )


@blueprint.get("/incidents/<int:incident_id>")
@login_required
def detail(incident_id: int) -> ResponseReturnValue:
    with db_session() as session:
        try:
            record = load_record(session, incident_id)
        except IncidentError as exc:
            _refuse(exc.status, str(exc), _shown(exc))
    notice = NOTICES.get(request.args.get("done", ""))
    return render_template(
        "incidents/detail.html",
        record=record,
        incident=record.incident,
        status=status_of(record.incident),
        evidence=record.evidence(),
        label=_label,
        status_labels=STATUS_LABELS,
        event_labels=EVENT_LABELS,
        delivery_labels=DELIVERY_LABELS,
        tier_title=tier_title,
        can_change=may_change_incidents(g.user.role),
        text_length=TEXT_LENGTH,
        notice=None if notice is None else str(notice),
    )


def _form_text(name: str, required: bool, limit: int = TEXT_LENGTH) -> str | None:
    raw = request.form.get(name, "")
    if not raw.strip() and not required:
        return None
    text = clean_text(raw, limit)
    if text is None:
        _refuse(
            400,
            f"{name} must be 1..{limit} characters",
            _("A text is 1 to %(n)d characters.", n=limit),
        )
    return text


def _form_id(name: str) -> int:
    raw = request.form.get(name, "")
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        _refuse(400, f"{name} must be an id", _("Unknown alert."))
    return int(raw)


@blueprint.post("/incidents/open", endpoint="open")
@roles_required(*WRITER_ROLES)
def open_view() -> ResponseReturnValue:
    from server.oplog.hook import record

    alert_id = _form_id("alert_id")
    title = _form_text("title", required=False, limit=TITLE_LENGTH)
    note = _form_text("note", required=False)
    with db_session() as session:
        try:
            opened = open_incident(session, g.user.name, alert_id=alert_id, title=title, note=note)
        except IncidentError as exc:
            _refuse(exc.status, str(exc), _shown(exc))
        incident_id = opened.incident.id
    record(
        "incidents.open",
        target=f"incident:{incident_id}",
        details={"alert_id": alert_id},
    )
    return redirect(url_for("incidents.detail", incident_id=incident_id, done="open"))


def _change(incident_id: int, action: str) -> ResponseReturnValue:
    with db_session() as session:
        try:
            if action == "note":
                text = _form_text("text", required=True)
                assert text is not None  # required: refused above otherwise
                add_note(session, incident_id, g.user.name, text)
            elif action == "ack":
                acknowledge(session, incident_id, g.user.name, _form_text("note", required=False))
            else:
                close(session, incident_id, g.user.name, _form_text("note", required=False))
        except IncidentError as exc:
            _refuse(exc.status, str(exc), _shown(exc))
    return redirect(url_for("incidents.detail", incident_id=incident_id, done=action))


@blueprint.post("/incidents/<int:incident_id>/note")
@roles_required(*WRITER_ROLES)
def note(incident_id: int) -> ResponseReturnValue:
    return _change(incident_id, "note")


@blueprint.post("/incidents/<int:incident_id>/ack")
@roles_required(*WRITER_ROLES)
def ack(incident_id: int) -> ResponseReturnValue:
    return _change(incident_id, "ack")


@blueprint.post("/incidents/<int:incident_id>/close", endpoint="close")
@roles_required(*WRITER_ROLES)
def close_view(incident_id: int) -> ResponseReturnValue:
    return _change(incident_id, "close")


@blueprint.get("/incidents/<int:incident_id>/report.docx")
@login_required
def report(incident_id: int) -> ResponseReturnValue:
    from server.oplog.hook import record

    with db_session() as session:
        try:
            loaded = load_record(session, incident_id)
        except IncidentError as exc:
            _refuse(exc.status, str(exc), _shown(exc))
        document = build_report(
            loaded, timezone=current_state().config.console_timezone, generated_by=g.user.name
        )
    record("console.incident.report", target=f"incident:{incident_id}")
    response = Response(document, mimetype=MEDIA_TYPE)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{report_filename(incident_id)}"'
    )
    return response


@blueprint.post("/incidents/<int:incident_id>/alerts", endpoint="attach")
@roles_required(*WRITER_ROLES)
def attach_view(incident_id: int) -> ResponseReturnValue:
    alert_id = _form_id("alert_id")
    with db_session() as session:
        try:
            attach_alert(session, incident_id, alert_id, g.user.name)
        except IncidentError as exc:
            _refuse(exc.status, str(exc), _shown(exc))
    return redirect(url_for("incidents.detail", incident_id=incident_id, done="attach"))


def incident_panel(alert_id: int, host_id: str | None) -> dict[str, int | None]:
    """What the panel on an alert's page shows: the incident the alert belongs to, else the
    host's newest incident that is not closed (to add the alert to it)."""
    with db_session() as session:
        mine = incident_of_alert(session, alert_id)
        return {
            "incident": mine,
            "host_incident": None if mine is not None else open_incident_of_host(session, host_id),
        }
