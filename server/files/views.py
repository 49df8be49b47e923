"""The console's "File changes" page: recent file events of every host (web shells and
sensitive words first to the eye), and, for admins, each group's watched folders and words."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.console.auth import console_blueprint, login_required, roles_required
from server.console.nav import NavItem
from server.files.api import replace_watch
from server.files.models import FileEvent
from server.files.policy import WatchPolicyError, validate_watch, watch_section
from server.state import db_session, log_refusal
from server.store.models import Agent, Group

blueprint = console_blueprint("files", __name__)
NAV = (NavItem("files.events", _l("File changes"), 45),)

PER_PAGE = 100
MAX_FORM_LINES = 600


def _lines(name: str) -> list[str]:
    text = request.form.get(name, "")
    if len(text) > 200_000:
        abort(413)
    return [line.strip() for line in text.splitlines() if line.strip()][:MAX_FORM_LINES]


@blueprint.get("/files")
@login_required
def events() -> ResponseReturnValue:
    before_raw = request.args.get("before", "")
    if before_raw and (not before_raw.isdigit() or len(before_raw) > 18):
        log_refusal(400, f"file events page: bad before {before_raw!r:.40}")
        abort(400, _("The page position is not valid."))
    only_findings = request.args.get("findings") == "only"
    statement = (
        select(FileEvent, Agent.hostname)
        .join(Agent, Agent.id == FileEvent.agent_id)
        .order_by(FileEvent.id.desc())
        .limit(PER_PAGE)
    )
    if before_raw:
        statement = statement.where(FileEvent.id < int(before_raw))
    with db_session() as session:
        rows = session.execute(statement).all()
        groups = list(session.scalars(select(Group).order_by(Group.name)))
        watch = {group.name: watch_section(group.policy or {}) for group in groups}
    shown = [(event, hostname) for event, hostname in rows if event.findings or not only_findings]
    next_before = rows[-1][0].id if len(rows) == PER_PAGE else None
    return render_template(
        "files/events.html",
        rows=shown,
        next_before=next_before,
        only_findings=only_findings,
        watch=watch,
    )


@blueprint.post("/files/watch/<group_name>")
@roles_required("admin")
def set_watch(group_name: str) -> ResponseReturnValue:
    folders = [{"path": path, "kind": "web_root"} for path in _lines("web_roots")]
    folders += [{"path": path, "kind": "upload"} for path in _lines("uploads")]
    try:
        watch = validate_watch({"folders": folders, "sensitive_words": _lines("words")})
    except WatchPolicyError as exc:
        log_refusal(400, f"watch settings for {group_name!r} refused: {exc}")
        abort(400, _("Not saved: %(reason)s", reason=str(exc)))
    with db_session() as session:
        group = session.scalar(select(Group).where(Group.name == group_name[:64]))
        if group is None:
            abort(404)
        replace_watch(session, group, watch)
        session.commit()
    return redirect(url_for("files.events", saved=group_name))
