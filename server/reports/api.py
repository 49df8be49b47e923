"""``GET /api/v1/reports/weekly?week=YYYY-Www&format=csv|xlsx|json`` (POLICY.md A4).

Admin and auditor tokens only: the report is an audit record (A1, A2), and operators see the
same results live in the console. The view is nested in the app's ``api``
blueprint (server/api.py) for its token check. Every answer is in the operation log: a download as
``report.export``, a refusal (wrong role, bad week or format) as ``report.export`` with outcome
``refused``.
"""

from __future__ import annotations

from flask import Blueprint, g, request
from flask.typing import ResponseReturnValue

from server.apidoc import documented
from server.oplog.hook import record
from server.reports.schemas import REPORT_ANSWERS, ReportQuery
from server.reports.serving import EXPORT_ACTION, BadRequest, parse_request, report_response
from server.rest import read_query
from server.state import refuse
from xunjian.core.schema import BodyError

READER_ROLES = ("admin", "auditor")


def make_blueprint() -> Blueprint:
    """These views as a blueprint that ``install(app)`` nests in the app's ``/api/v1`` blueprint
    (server/api.py); made per app, as the parent is."""
    from server.api import token_required

    blueprint = Blueprint("reports", __name__)
    blueprint.add_url_rule(
        "/reports/weekly", "reports_weekly", token_required(weekly_report), methods=["GET"]
    )
    return blueprint


def _refused(status: int, reason: str) -> ResponseReturnValue:
    record(
        EXPORT_ACTION,
        outcome="refused",
        reason=f"{status} {reason}"[:400],
        target=f"week:{request.args.get('week', '')[:16]}",
        details={"format": request.args.get("format", "")[:16], "via": "api"},
    )
    return refuse(status, reason)


@documented(
    "The weekly report of one ISO week as JSON, CSV or XLSX (admin and auditor tokens)",
    auth="bearer",
    tags=["reports"],
    query=ReportQuery,
    responses={200: REPORT_ANSWERS},
    errors={403: "the token's role may not export reports"},
    description="A complete week is kept and served as kept (X-Report-SHA256); the running "
    "week is a snapshot. Every download and refusal is in the operation log.",
)
def weekly_report() -> ResponseReturnValue:
    owner = g.api_owner
    if owner.role not in READER_ROLES:
        return _refused(403, f"role {owner.role} may not export reports ({owner.user_name})")
    try:
        query = read_query(ReportQuery)
        wanted = parse_request(query.week, query.format, query.lang)
    except (BodyError, BadRequest) as exc:
        return _refused(400, str(exc))
    return report_response(wanted, "api", owner.user_name)
