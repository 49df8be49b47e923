"""The console's Site health pages (POLICY.md E13): every site with its last crawl; one site's
broken links grouped by the page they are on (with counts), its other findings, a trend of
broken links over the last crawls, a CSV export of the last crawl's findings, and "Crawl now"
(admin and operator)."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from server.console.auth import console_blueprint, login_required, roles_required
from server.console.nav import NavItem
from server.oplog.views import FORMULA_STARTS
from server.rest import input_limits
from server.sites import store
from server.sites.api import crawl_json, site_json
from server.sites.models import Site
from server.sites.schemas import SiteSettings
from server.state import current_state, db_session, log_refusal
from server.store.models import utcnow

blueprint = console_blueprint("sites", __name__, template_folder="templates")
NAV = (NavItem("sites.index", _l("Site health"), 55),)
FORM_LIMITS = input_limits(SiteSettings)
CHART_WIDTH = 300
CHART_HEIGHT = 60
OTHER_KINDS = (
    "redirect_loop",
    "mixed_content",
    "defacement",
    "too_large",
    "refused",
    "new_page",
    "gone_page",
)
CSV_COLUMNS = ("kind", "url", "page_url", "detail", "text")


@blueprint.get("/sites")
@login_required
def index() -> ResponseReturnValue:
    now = utcnow()
    with db_session() as session:
        sites = [
            site_json(session, site, now)
            for site in session.scalars(select(Site).order_by(Site.id))
        ]
    return render_template("sites/index.html", sites=sites, limits=FORM_LIMITS)


@blueprint.post("/sites")
@roles_required("admin", "operator")
def add() -> ResponseReturnValue:
    form = request.form
    payload: dict[str, Any] = {"start_url": form.get("start_url", "")[:2100]}
    if form.get("name"):
        payload["name"] = form["name"][:300]
    hosts = [h for h in form.get("extra_hosts", "")[:6000].split() if h]
    if hosts:
        payload["extra_hosts"] = hosts
    if form.get("crawl_at"):
        payload["crawl_at"] = form["crawl_at"][:10]
    if form.get("max_pages"):
        if not form["max_pages"][:12].isdigit():
            abort(400, _("Not saved: %(reason)s", reason="max_pages: a whole number"))
        payload["max_pages"] = int(form["max_pages"][:12])
    if "robots" in form:
        payload["robots"] = form.get("robots") == "on"
    try:
        values = store.validate(payload, creating=True)
    except store.FieldError as error:
        log_refusal(400, f"site form refused: {error}")
        abort(400, _("Not saved: %(reason)s", reason=str(error)))
    zone = current_state().config.daily_timezone
    with db_session() as session:
        try:
            site = store.create_site(session, values, g.user.name, zone, utcnow())
        except store.FieldError as error:
            abort(400, _("Not saved: %(reason)s", reason=str(error)))
        except store.ConflictError as error:
            abort(409, str(error))
        session.commit()
        site_id = site.id
    return redirect(url_for("sites.detail", site_id=site_id), code=303)


def trend_bars(crawls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One bar per crawl, its height the broken links found (scaled to the highest)."""
    if not crawls:
        return []
    top = max(max(crawl["broken"] for crawl in crawls), 1)
    width = CHART_WIDTH / len(crawls)
    return [
        {
            "x": round(index * width, 1),
            "width": round(max(width - 2, 1), 1),
            "height": round(CHART_HEIGHT * crawl["broken"] / top, 1),
            "y": round(CHART_HEIGHT - CHART_HEIGHT * crawl["broken"] / top, 1),
            "broken": crawl["broken"],
            "at": crawl["finished_at"],
        }
        for index, crawl in enumerate(crawls)
    ]


@blueprint.get("/sites/<int:site_id>")
@login_required
def detail(site_id: int) -> ResponseReturnValue:
    with db_session() as session:
        site = session.get(Site, site_id)
        if site is None:
            abort(404)
        shown = site_json(session, site, utcnow())
        crawl = store.last_crawl(session, site_id)
        groups = store.broken_by_page(session, crawl.id) if crawl else []
        others: dict[str, list[Any]] = {}
        counts: dict[str, int] = {}
        if crawl is not None:
            counts = store.kind_counts(session, crawl.id)
            for kind in OTHER_KINDS:
                rows, _total = store.findings_of(session, crawl.id, kind, limit=200)
                if rows:
                    others[kind] = rows
        crawls = [crawl_json(c) for c in store.trend(session, site_id)]
    return render_template(
        "sites/detail.html",
        site=shown,
        groups=groups,
        others=others,
        counts=counts,
        bars=trend_bars([c for c in crawls if c is not None]),
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        crawled=request.args.get("crawl") == "1",
    )


@blueprint.post("/sites/<int:site_id>/crawl")
@roles_required("admin", "operator")
def crawl_now(site_id: int) -> ResponseReturnValue:
    with db_session() as session:
        site = session.get(Site, site_id)
        if site is None:
            abort(404)
        store.request_crawl(session, site)
        session.commit()
    return redirect(url_for("sites.detail", site_id=site_id, crawl=1), code=303)


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@blueprint.get("/sites/<int:site_id>/findings.csv")
@login_required
def export(site_id: int) -> ResponseReturnValue:
    """The last crawl's findings, one row per place (UTF-8 with a byte order mark, so Excel
    reads Chinese link texts; cells that a spreadsheet would run as formulas are quoted)."""
    with db_session() as session:
        site = session.get(Site, site_id)
        if site is None:
            abort(404)
        crawl = store.last_crawl(session, site_id)
        rows = store.findings_of(session, crawl.id, limit=store.MAX_FINDINGS)[0] if crawl else []
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([_cell(str(getattr(row, name))) for name in CSV_COLUMNS])
        stamp = crawl.finished_at.strftime("%Y%m%d-%H%M") if crawl and crawl.finished_at else "none"
    return Response(
        "\ufeff" + buffer.getvalue(),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="xunjian-site-{site_id}-{stamp}.csv"'
        },
    )
