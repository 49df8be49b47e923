"""The console's Alerts pages: the list (every role) with filters and paging, one alert with its
comments and notification history, and the acknowledge / comment / resolve forms (admin and
operator; an auditor sees no buttons and gets a 403 for a POST, logged).

The changes go through server/alerts/actions.py, the same functions the REST API calls. Each
POST is an operation log entry (server/oplog/hook.py names them ``console.alert.*``).
"""

from __future__ import annotations

from typing import Any, NoReturn

from flask import abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from server.alerts.actions import (
    AlertActionError,
    add_comment,
    change_alert,
    clean_comment,
    may_change_alerts,
)
from server.alerts.api import _filtered, subject_text
from server.alerts.models import (
    COMMENT_LENGTH,
    KINDS,
    STATUSES,
    Alert,
    AlertComment,
    AlertNotification,
    status_of,
)
from server.console.auth import console_blueprint, login_required, roles_required
from server.console.i18n import bilingual, result_sentence
from server.console.nav import NavItem
from server.policy import check_catalog
from server.state import db_session, log_refusal
from server.store.isolation import IsolationView, isolation_of
from server.store.models import Agent, LatestResult

blueprint = console_blueprint("alerts", __name__)

NAV = (NavItem("alerts.index", _l("Alerts"), 40),)

PER_PAGE = 50
SEVERITIES = ("critical", "high", "medium", "low", "info")
# The list's status filter: the stored statuses plus two views of them.
STATUS_FILTERS = ("unresolved", *STATUSES, "all")
DEFAULT_STATUS = "unresolved"
MAX_ID = 2**63 - 1
WRITER_ROLES = ("admin", "operator")
NOTICES = {
    "ack": _l("The alert is acknowledged."),
    "resolve": _l("The alert is resolved."),
    "comment": _l("The comment was added."),
}
KIND_LABELS = {
    "check_failed": _l("check failed"),
    "agent_silent": _l("agent silent"),
    "spool_overflow": _l("spool overflow"),
    "down": _l("page check failed"),
    "tamper": _l("page tampered"),
    "cert": _l("certificate expiring"),
    "slow": _l("page slow"),
    "webshell": _l("web shell"),
    "sensitive_file": _l("sensitive file"),
    "default_credential": _l("default credential"),
    "watch_failed": _l("file watcher failing"),
    "broken_links": _l("broken links"),
}


def kind_label(kind: str) -> str:
    return str(KIND_LABELS.get(kind, kind))


def _refuse(status: int, reason: str, shown: str | None = None) -> NoReturn:
    log_refusal(status, reason)
    abort(status, shown or reason)


def _choice(name: str, allowed: tuple[str, ...], default: str = "") -> str:
    value = request.args.get(name, default)
    if value and value not in allowed:
        _refuse(400, f"{name} must be one of {', '.join(allowed)}", _("Unknown filter value."))
    return value


def _before() -> int | None:
    raw = request.args.get("before", "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        _refuse(400, "before must be an alert id", _("Unknown filter value."))
    return int(raw)


def _where(statement: Select[Any], status: str, severity: str, kind: str) -> Select[Any]:
    if status == "unresolved":
        statement = statement.where(Alert.resolved_at.is_(None))
    elif status in STATUSES:
        statement = _filtered(statement, status)
    if severity:
        statement = statement.where(Alert.severity == severity)
    if kind:
        statement = statement.where(Alert.kind == kind)
    return statement


@blueprint.get("/alerts")
@login_required
def index() -> ResponseReturnValue:
    status = _choice("status", STATUS_FILTERS, DEFAULT_STATUS)
    severity = _choice("severity", SEVERITIES)
    kind = _choice("kind", KINDS)
    before = _before()
    with db_session() as session:
        total = session.scalar(
            _where(select(func.count()).select_from(Alert), status, severity, kind)
        )
        query = _where(
            select(Alert, Agent.hostname, Agent.platform).outerjoin(Agent), status, severity, kind
        )
        if before is not None:
            query = query.where(Alert.id < before)
        rows = session.execute(query.order_by(Alert.id.desc()).limit(PER_PAGE + 1)).all()
        more = len(rows) > PER_PAGE
        rows = rows[:PER_PAGE]
        # An isolated host's alerts say so (docs/incidents.md).
        isolations = isolation_of(
            session, [alert.agent_id for alert, _h, _p in rows if alert.agent_id]
        )
        sentences = _sentences(session, [row[0] for row in rows])
    filters = {"status": status, "severity": severity, "kind": kind}
    return render_template(
        "alerts/list.html",
        can_change=may_change_alerts(g.user.role),
        comment_length=COMMENT_LENGTH,
        bulk_notice=_bulk_notice(),
        alerts=[
            _row(alert, hostname, platform, isolations.get(alert.agent_id or ""))
            for alert, hostname, platform in rows
        ],
        sentences=sentences,
        total=total or 0,
        filters=filters,
        params={name: value for name, value in filters.items() if value},
        statuses=STATUS_FILTERS,
        severities=SEVERITIES,
        kinds=KINDS,
        kind_label=kind_label,
        before=before,
        next_before=rows[-1][0].id if more and rows else None,
    )


def _bulk_notice() -> str | None:
    """What a bulk change did, after its redirect (numbers only in the query string)."""
    done = request.args.get("done", "")
    changed, skipped = request.args.get("changed", ""), request.args.get("skipped", "0")
    if done not in ("ack", "resolve") or not changed.isdigit() or not skipped.isdigit():
        return None
    count, left = int(changed[:6]), int(skipped[:6])
    text = (
        _("%(n)d alert(s) acknowledged.", n=count)
        if done == "ack"
        else _("%(n)d alert(s) resolved.", n=count)
    )
    if left:
        text += " " + _("%(n)d were resolved already and were left as they are.", n=left)
    return text


@blueprint.post("/alerts/bulk")
@roles_required(*WRITER_ROLES)
def bulk() -> ResponseReturnValue:
    """Acknowledge or resolve the ticked alerts of a list page with one comment. Each alert is
    changed as on its own page (server/alerts/actions.py) and is an operation log entry of its
    own (``console.alert.ack`` / ``resolve``, target ``alert:ID``, details ``bulk``), so a
    search of the log by alert finds it."""
    from server.oplog.hook import record

    action = request.form.get("action", "")
    if action not in ("ack", "resolve"):
        _refuse(400, "action must be ack or resolve", _("Choose acknowledge or resolve."))
    raw = request.form.getlist("alert")
    if not raw or len(raw) > PER_PAGE or not all(v.isdigit() and len(v) <= 19 for v in raw):
        _refuse(
            400,
            f"bulk {action}: 1..{PER_PAGE} alert ids expected",
            _("Tick at least one alert (at most %(n)d).", n=PER_PAGE),
        )
    ids = sorted({int(value) for value in raw})
    comment = _form_comment("comment", required=False)
    changed: list[int] = []
    skipped: list[int] = []
    with db_session() as session:
        for alert_id in ids:
            try:
                change_alert(session, alert_id, action, g.user.name, comment)
            except AlertActionError as exc:
                session.rollback()
                skipped.append(alert_id)
                record(
                    f"console.alert.{action}",
                    outcome="refused",
                    reason=f"{exc.status} {exc}"[:200],
                    target=f"alert:{alert_id}",
                    details={"bulk": len(ids)},
                )
            else:
                changed.append(alert_id)
                record(
                    f"console.alert.{action}",
                    target=f"alert:{alert_id}",
                    details={"bulk": len(ids), "comment": comment is not None},
                )
    kept = {
        name: request.form.get(f"filter_{name}", "")
        for name in ("status", "severity", "kind")
        if request.form.get(f"filter_{name}", "")
    }
    return redirect(
        url_for("alerts.index", done=action, changed=len(changed), skipped=len(skipped), **kept),
        code=303,
    )


def _sentences(session: Session, alerts: list[Alert]) -> dict[int, str]:
    """The message of each failed-check alert in the page's language, where the host's latest
    result for that check and resource still says the same sentence and the agent sent it as a
    message id (checks/messages.py); other alerts keep their stored English."""
    wanted = [a for a in alerts if a.kind == "check_failed" and a.agent_id and a.check_id]
    if not wanted:
        return {}
    rows = session.execute(
        select(
            LatestResult.agent_id,
            LatestResult.check_id,
            LatestResult.resource,
            LatestResult.message,
            LatestResult.said,
        ).where(
            LatestResult.agent_id.in_({a.agent_id for a in wanted}),
            LatestResult.check_id.in_({a.check_id for a in wanted}),
            LatestResult.said.is_not(None),
        )
    ).all()
    said = {(r.agent_id, r.check_id, r.resource): (r.message, r.said) for r in rows}
    sentences: dict[int, str] = {}
    for alert in wanted:
        found = said.get((alert.agent_id, alert.check_id, alert.resource))
        if found is None or found[0] != alert.message or not isinstance(found[1], dict):
            continue
        sentences[alert.id] = result_sentence(
            {
                "message": alert.message,
                "message_id": found[1].get("id"),
                "params": found[1].get("params"),
            }
        )
    return sentences


def _row(
    alert: Alert,
    hostname: str | None,
    platform: str | None,
    isolation: IsolationView | None = None,
) -> dict[str, Any]:
    return {
        "alert": alert,
        "isolation": isolation,
        "status": status_of(alert),
        "hostname": hostname,
        # What the host runs (linux, windows; device), shown beside its name.
        "platform": platform,
        "subject": subject_text(alert, hostname),
    }


def _alert_or_404(session: Session, alert_id: int) -> tuple[Alert, str | None, str | None]:
    row = session.execute(
        select(Alert, Agent.hostname, Agent.platform).outerjoin(Agent).where(Alert.id == alert_id)
    ).first()
    if row is None:
        _refuse(404, f"no alert {alert_id}", _("There is no such alert."))
    return row[0], row[1], row[2]


@blueprint.get("/alerts/<int:alert_id>")
@login_required
def detail(alert_id: int) -> ResponseReturnValue:
    with db_session() as session:
        alert, hostname, platform = _alert_or_404(session, alert_id)
        comments = list(
            session.scalars(
                select(AlertComment)
                .where(AlertComment.alert_id == alert_id)
                .order_by(AlertComment.id)
            )
        )
        notifications = list(
            session.scalars(
                select(AlertNotification)
                .where(AlertNotification.alert_id == alert_id)
                .order_by(AlertNotification.id)
            )
        )
        isolation = (
            isolation_of(session, [alert.agent_id]).get(alert.agent_id) if alert.agent_id else None
        )
        sentence = _sentences(session, [alert]).get(alert.id, alert.message)
    done = request.args.get("done", "")
    notice = NOTICES.get(done)
    return render_template(
        "alerts/detail.html",
        sentence=sentence,
        remediation=_remediation(alert.check_id) if alert.kind == "check_failed" else "",
        row=_row(alert, hostname, platform, isolation),
        isolation=isolation,
        # A host with an agent (not a device) can be isolated from here.
        can_isolate=g.user.role in ("admin", "operator"),
        isolatable=bool(alert.agent_id) and platform not in (None, "device"),
        isolation_done=request.args.get("isolation", ""),
        alert=alert,
        comments=comments,
        notifications=notifications,
        kind_label=kind_label,
        can_change=may_change_alerts(g.user.role),
        comment_length=COMMENT_LENGTH,
        notice=None if notice is None else str(notice),
    )


def _remediation(check_id: str | None) -> str:
    """The failing check's remediation in the page's language: the alert is where a person
    arrives from a notification, so what to do belongs there too."""
    for entry in check_catalog():
        if entry.get("id") == check_id:
            return bilingual(entry.get("remediation"))
    return ""


def _form_comment(name: str, required: bool) -> str | None:
    raw = request.form.get(name, "")
    if not raw.strip() and not required:
        return None
    text = clean_comment(raw)
    if text is None:
        _refuse(
            400,
            f"{name} must be 1..{COMMENT_LENGTH} characters",
            _("A comment is 1 to %(n)d characters.", n=COMMENT_LENGTH),
        )
    return text


def _change(alert_id: int, action: str) -> ResponseReturnValue:
    comment = _form_comment("comment", required=False)
    with db_session() as session:
        try:
            change_alert(session, alert_id, action, g.user.name, comment)
        except AlertActionError as exc:
            shown = (
                _("This alert is resolved already; it cannot be changed.")
                if exc.status == 409
                else _("There is no such alert.")
            )
            _refuse(exc.status, str(exc), shown)
    return redirect(url_for("alerts.detail", alert_id=alert_id, done=action))


@blueprint.post("/alerts/<int:alert_id>/ack")
@roles_required(*WRITER_ROLES)
def ack(alert_id: int) -> ResponseReturnValue:
    return _change(alert_id, "ack")


@blueprint.post("/alerts/<int:alert_id>/resolve")
@roles_required(*WRITER_ROLES)
def resolve(alert_id: int) -> ResponseReturnValue:
    return _change(alert_id, "resolve")


@blueprint.post("/alerts/<int:alert_id>/comment")
@roles_required(*WRITER_ROLES)
def comment(alert_id: int) -> ResponseReturnValue:
    text = _form_comment("text", required=True)
    assert text is not None  # required: refused above otherwise
    with db_session() as session:
        try:
            add_comment(session, alert_id, g.user.name, text)
        except AlertActionError as exc:
            _refuse(exc.status, str(exc), _("There is no such alert."))
    return redirect(url_for("alerts.detail", alert_id=alert_id, done="comment"))
