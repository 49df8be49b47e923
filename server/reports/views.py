"""The console's Weekly reports page (POLICY.md A4): the kept reports with their downloads, and
a form to keep one for a chosen week. Admin and auditor only, like the API: the report is an
audit record, and an operator sees the same results live on the hosts pages.

Every download is an operation log entry (``report.export``, via ``console``), and so is every
generation (``report.generate``), including the refused ones.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from server.console.auth import console_blueprint, roles_required
from server.console.i18n import current_language
from server.console.nav import NavItem
from server.oplog.hook import record
from server.reports.formats import CONTENT_TYPES, FORMATS, file_name
from server.reports.generate import KEEP_WEEKS, keep_week, list_kept
from server.reports.models import WeeklyReport
from server.reports.serving import EXPORT_ACTION, MISSING_KEPT_FILE, kept_chunks, kept_key
from server.reports.signing import PUBLIC_KEY_NAME, ensure_report_key
from server.reports.verify import fingerprint
from server.reports.week import (
    IsoWeek,
    WeekError,
    has_started,
    last_complete_week,
    this_week,
    zone_of,
)
from server.state import current_state, db_session, events, log_refusal
from server.store.models import utcnow

BLUEPRINT_NAME = "reports"
READER_ROLES = ("admin", "auditor")
PER_PAGE = 50
MAX_PAGE = 10_000
GENERATE_ACTION = "report.generate"
PUBLIC_KEY_ACTION = "report.public_key"

blueprint = console_blueprint(BLUEPRINT_NAME, __name__, url_prefix="/reports")
NAV = (NavItem(f"{BLUEPRINT_NAME}.index", _l("Weekly reports"), 70, READER_ROLES),)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or len(raw) > 5 or not 1 <= int(raw) <= MAX_PAGE:
        abort(400)
    return int(raw)


def _recent_weeks(count: int = 8) -> list[str]:
    week = last_complete_week(utcnow(), zone_of(current_state().config))
    weeks = []
    for _index in range(count):
        weeks.append(str(week))
        week = week.previous()
    return weeks


def _page(error: str | None = None, week_value: str = "", status: int = 200) -> ResponseReturnValue:
    page = _page_number()
    state = current_state()
    with db_session() as session:
        rows = list_kept(session, PER_PAGE + 1, (page - 1) * PER_PAGE)
    key = ensure_report_key(state.paths.root)
    context: dict[str, Any] = {
        "reports": rows[:PER_PAGE],
        "page": page,
        "more": len(rows) > PER_PAGE,
        "formats": FORMATS,
        "error": error,
        "week_value": week_value or str(last_complete_week(utcnow(), zone_of(state.config))),
        # Both named for what they are: on a new install last week is empty, and a person who
        # only sees "2026-W48" cannot tell that the week with their first scans is W49.
        "this_week": str(this_week(utcnow(), zone_of(state.config))),
        "last_week": str(last_complete_week(utcnow(), zone_of(state.config))),
        "recent_weeks": _recent_weeks(),
        "key_id": fingerprint(key.public_key()),
        "public_key_name": PUBLIC_KEY_NAME,
        "keep_weeks": KEEP_WEEKS,
        "made": request.args.get("made", ""),
    }
    return render_template("reports/index.html", **context), status


@blueprint.get("/")
@roles_required(*READER_ROLES)
def index() -> ResponseReturnValue:
    return _page()


@blueprint.post("/generate")
@roles_required(*READER_ROLES)
def generate() -> ResponseReturnValue:
    state = current_state()
    zone = zone_of(state.config)
    text = request.form.get("week", "").strip()[:20]
    try:
        week = IsoWeek.parse(text)
        if not has_started(week, utcnow(), zone):
            raise WeekError(_("Week %(week)s has not begun yet.", week=str(week)))
    except WeekError as exc:
        reason = str(exc)
        log_refusal(400, reason)
        record(GENERATE_ACTION, outcome="refused", reason=f"400 {reason}"[:400], target=text)
        return _page(_("Not a week that can be reported: %(reason)s", reason=reason), text, 400)
    row = keep_week(state.engine, state.paths.root, week, zone, "console", g.user.name)
    assert row is not None  # only the scheduled report may be refused as a duplicate
    record(
        GENERATE_ACTION,
        target=f"week:{week}",
        details={
            "trigger": "console",
            "report_id": row.id,
            "hosts": row.hosts,
            "rows": row.rows,
            "report_sha256": row.report_sha256,
        },
    )
    return redirect(url_for(f"{BLUEPRINT_NAME}.index", made=row.id), code=303)


@blueprint.get("/public-key")
@roles_required(*READER_ROLES)
def public_key() -> ResponseReturnValue:
    """The report signing key's public half, the file ``xunjian report verify --public-key``
    takes: an auditor who has only the console can still check a report offline. Not a
    secret, but handing it out is logged like the reports it checks."""
    state = current_state()
    ensure_report_key(state.paths.root)
    data = (state.paths.root / PUBLIC_KEY_NAME).read_bytes()
    record(PUBLIC_KEY_ACTION, target="report-signing-key", details={"via": "console"})
    return Response(
        data,
        headers={
            "Content-Type": "application/x-pem-file",
            "Content-Disposition": f'attachment; filename="{PUBLIC_KEY_NAME}"',
        },
    )


@blueprint.get("/<int:report_id>/<form>")
@roles_required(*READER_ROLES)
def download(report_id: int, form: str) -> ResponseReturnValue:
    if form not in FORMATS:
        abort(404)
    state = current_state()
    with db_session() as session:
        row = session.get(WeeklyReport, report_id)
    # CSV and XLSX in the page's language (a report kept before that has one of each).
    language = current_language()
    key = kept_key(row, form, language) if row is not None else None
    if row is None or key is None:
        abort(404)
    entry = row.files[key]
    try:
        chunks = kept_chunks(state.paths.root, row, key)
    except FileNotFoundError as exc:
        events.error("weekly report %s: %s (%s)", row.id, MISSING_KEPT_FILE, exc)
        abort(500, description=MISSING_KEPT_FILE)
    record(
        EXPORT_ACTION,
        target=f"week:{row.week}",
        details={
            "format": form,
            "language": None if form == "json" else language,
            "via": "console",
            "report_id": row.id,
            "source": "kept",
            "sha256": entry["sha256"],
        },
    )

    name = file_name(row.week, form, "" if key == form else language)

    return Response(
        chunks,
        headers={
            "Content-Type": CONTENT_TYPES[form],
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(entry["bytes"]),
            "X-Report-SHA256": str(entry["sha256"]),
        },
    )
