"""``/api/v1/sites``: site health (POLICY.md E13) for people with API tokens. Any role reads;
admin and operator tokens add sites and ask for a crawl now; only admins name a CA file on the
server. Nested in the app's ``api`` blueprint (server/api.py), so the token check and the
operation log's record of every write come with it."""

from __future__ import annotations

import datetime
from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.apidoc import documented
from server.rest import read_body, read_query, reply
from server.sites import schemas, store
from server.sites.models import Site, SiteCrawl, SiteIssue
from server.state import current_state, db_session, events, refuse
from server.store.models import utcnow


def make_blueprint() -> Blueprint:
    from server.api import token_required

    blueprint = Blueprint("sites", __name__)
    routes: list[tuple[str, str, Any, list[str]]] = [
        ("/sites", "sites", list_sites, ["GET"]),
        ("/sites", "site_create", create, ["POST"]),
        ("/sites/<int:site_id>", "site", get_one, ["GET"]),
        ("/sites/<int:site_id>", "site_update", change, ["PATCH"]),
        ("/sites/<int:site_id>/crawl", "site_crawl", crawl_now, ["POST"]),
        ("/sites/<int:site_id>/findings", "site_findings", findings, ["GET"]),
        ("/sites/<int:site_id>/pages", "site_pages", pages, ["GET"]),
        ("/sites/<int:site_id>/trend", "site_trend", trend, ["GET"]),
    ]
    for rule, endpoint, view, methods in routes:
        blueprint.add_url_rule(rule, endpoint, token_required(view), methods=methods)
    return blueprint


def _time(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


def crawl_json(crawl: SiteCrawl | None) -> dict[str, Any] | None:
    if crawl is None:
        return None
    return {
        "id": crawl.id,
        "state": crawl.state,
        "started_at": _time(crawl.started_at),
        "finished_at": _time(crawl.finished_at),
        "pages": crawl.pages,
        "links": crawl.links,
        "requests": crawl.requests,
        "bytes_read": crawl.bytes_read,
        "broken": crawl.broken,
        "new_broken": crawl.new_broken,
        "fixed": crawl.fixed,
        "findings": crawl.findings,
        "limits": crawl.limits,
        "error": crawl.error,
    }


def site_json(session: Session, site: Site, now: datetime.datetime) -> dict[str, Any]:
    open_broken = session.scalar(
        select(func.count())
        .select_from(SiteIssue)
        .where(SiteIssue.site_id == site.id, SiteIssue.resolved_at.is_(None))
    )
    return {
        "id": site.id,
        "name": site.name,
        "start_url": site.start_url,
        "monitor_id": site.monitor_id,
        "enabled": site.enabled,
        "extra_hosts": list(site.extra_hosts or []),
        "crawl_at": site.crawl_at,
        "max_depth": site.max_depth,
        "max_pages": site.max_pages,
        "max_bytes": site.max_bytes,
        "rate": site.rate,
        "concurrency": site.concurrency,
        "timeout_seconds": site.timeout_seconds,
        "max_redirects": site.max_redirects,
        "robots": site.robots,
        "ca_file": site.ca_file,
        "next_due_at": _time(site.next_due_at),
        "crawl_requested": site.crawl_requested,
        "crawling": site.claimed_until is not None and site.claimed_until > now,
        "created_at": _time(site.created_at),
        "created_by": site.created_by,
        "last_crawl": crawl_json(store.last_crawl(session, site.id)),
        "open_broken": int(open_broken or 0),
    }


def _owner() -> Any:
    from server.api import owner

    return owner()


def _writer(what: str) -> ResponseReturnValue | None:
    from server.api import refused_unless_writer

    return refused_unless_writer(what)


def _ca_file_denied(values: dict[str, Any]) -> ResponseReturnValue | None:
    from server.api import refused_unless_admin_names_a_file

    return refused_unless_admin_names_a_file(values)


@documented(
    "Sites crawled for broken links (E13), each with its last crawl",
    auth="bearer",
    tags=["sites"],
    responses={200: schemas.SiteList},
)
def list_sites() -> ResponseReturnValue:
    now = utcnow()
    with db_session() as session:
        sites = list(session.scalars(select(Site).order_by(Site.id)))
        return reply(schemas.SiteList, {"sites": [site_json(session, s, now) for s in sites]})


@documented(
    "Add a site: start_url, or monitor_id to start from a page monitor (admin and operator "
    "tokens; ca_file: admin only)",
    auth="bearer",
    tags=["sites"],
    body=schemas.NewSite,
    responses={201: schemas.Site},
    errors={403: "the token's role may not do this", 409: "a site already starts there"},
)
def create() -> ResponseReturnValue:
    denied = _writer("add sites")
    if denied is not None:
        return denied
    try:
        values = store.validate(_fields(read_body(schemas.NewSite)), creating=True)
    except store.FieldError as error:
        return refuse(400, str(error))
    denied = _ca_file_denied(values)
    if denied is not None:
        return denied
    who = _owner().user_name
    now = utcnow()
    zone = current_state().config.daily_timezone
    with db_session() as session:
        try:
            site = store.create_site(session, values, who, zone, now)
        except store.FieldError as error:
            return refuse(400, str(error))
        except store.ConflictError as error:
            return refuse(409, str(error))
        session.commit()
        events.info("user %s added site %s for %s", who, site.id, site.start_url)
        return reply(schemas.Site, site_json(session, site, now), 201)


def _fields(model: Any) -> dict[str, Any]:
    from msgspec import UNSET

    return {
        name: getattr(model, name)
        for name in model.__struct_fields__
        if getattr(model, name) is not UNSET
    }


@documented(
    "One site with its last crawl", auth="bearer", tags=["sites"], responses={200: schemas.Site}
)
def get_one(site_id: int) -> ResponseReturnValue:
    with db_session() as session:
        site = session.get(Site, site_id)
        if site is None:
            return jsonify({"error": "no such site"}), 404
        return reply(schemas.Site, site_json(session, site, utcnow()))


@documented(
    "Change a site: only the fields given (admin and operator tokens; ca_file: admin only)",
    auth="bearer",
    tags=["sites"],
    body=schemas.SiteSettings,
    responses={200: schemas.Site},
    errors={403: "the token's role may not do this"},
)
def change(site_id: int) -> ResponseReturnValue:
    denied = _writer("change sites")
    if denied is not None:
        return denied
    try:
        values = store.validate(_fields(read_body(schemas.SiteSettings)), creating=False)
    except store.FieldError as error:
        return refuse(400, str(error))
    denied = _ca_file_denied(values)
    if denied is not None:
        return denied
    now = utcnow()
    with db_session() as session:
        site = session.get(Site, site_id)
        if site is None:
            return jsonify({"error": "no such site"}), 404
        store.change_site(session, site, values, current_state().config.daily_timezone, now)
        session.commit()
        return reply(schemas.Site, site_json(session, site, now))


@documented(
    "Crawl the site now: the server's crawler takes it within seconds (admin and operator tokens)",
    auth="bearer",
    tags=["sites"],
    responses={202: schemas.CrawlRequested},
    errors={403: "the token's role may not do this"},
)
def crawl_now(site_id: int) -> ResponseReturnValue:
    denied = _writer("start crawls")
    if denied is not None:
        return denied
    with db_session() as session:
        site = session.get(Site, site_id)
        if site is None:
            return jsonify({"error": "no such site"}), 404
        store.request_crawl(session, site)
        session.commit()
    events.info("user %s asked for a crawl of site %s", _owner().user_name, site_id)
    return reply(schemas.CrawlRequested, {"site_id": site_id, "crawl_requested": True}, 202)


@documented(
    "A crawl's findings (default: the last crawl): broken links with the page each is on and "
    "its text, redirect loops, mixed content, defacement words, pages too large, pages new or "
    "gone since the crawl before",
    auth="bearer",
    tags=["sites"],
    query=schemas.FindingsQuery,
    responses={200: schemas.SiteFindings},
)
def findings(site_id: int) -> ResponseReturnValue:
    query = read_query(schemas.FindingsQuery)
    with db_session() as session:
        site = session.get(Site, site_id)
        if site is None:
            return jsonify({"error": "no such site"}), 404
        crawl = _crawl_of(session, site_id, query.crawl_id)
        if crawl is None and query.crawl_id is not None:
            return jsonify({"error": "no such crawl of this site"}), 404
        rows: list[Any] = []
        total = 0
        counts: dict[str, int] = {}
        if crawl is not None:
            rows, total = store.findings_of(
                session, crawl.id, query.kind, query.limit, query.offset
            )
            counts = store.kind_counts(session, crawl.id)
        return reply(
            schemas.SiteFindings,
            {
                "site_id": site_id,
                "crawl": crawl_json(crawl),
                "counts": counts,
                "findings": [
                    {
                        "kind": row.kind,
                        "url": row.url,
                        "page_url": row.page_url,
                        "detail": row.detail,
                        "text": row.text,
                    }
                    for row in rows
                ],
                "total": total,
                "limit": query.limit,
                "offset": query.offset,
            },
        )


def _crawl_of(session: Session, site_id: int, crawl_id: int | None) -> SiteCrawl | None:
    """The crawl asked for, if it is this site's, or the site's last finished one."""
    if crawl_id is None:
        return store.last_crawl(session, site_id)
    crawl = session.get(SiteCrawl, crawl_id)
    return crawl if crawl is not None and crawl.site_id == site_id else None


@documented(
    "A crawl's pages (default: the last crawl): status, time, size, title, depth",
    auth="bearer",
    tags=["sites"],
    query=schemas.PagesQuery,
    responses={200: schemas.SitePages},
)
def pages(site_id: int) -> ResponseReturnValue:
    query = read_query(schemas.PagesQuery)
    with db_session() as session:
        if session.get(Site, site_id) is None:
            return jsonify({"error": "no such site"}), 404
        crawl = _crawl_of(session, site_id, query.crawl_id)
        if crawl is None and query.crawl_id is not None:
            return jsonify({"error": "no such crawl of this site"}), 404
        rows, total = (
            ([], 0)
            if crawl is None
            else store.pages_of(session, crawl.id, query.limit, query.offset)
        )
        return reply(
            schemas.SitePages,
            {
                "site_id": site_id,
                "crawl": crawl_json(crawl),
                "pages": [
                    {
                        "url": row.url,
                        "depth": row.depth,
                        "status": row.status,
                        "ms": row.ms,
                        "size": row.size,
                        "title": row.title,
                        "error": row.error,
                        "html": row.html,
                    }
                    for row in rows
                ],
                "total": total,
                "limit": query.limit,
                "offset": query.offset,
            },
        )


@documented(
    "The site's last crawls, oldest first (the trend of broken links)",
    auth="bearer",
    tags=["sites"],
    responses={200: schemas.SiteTrend},
)
def trend(site_id: int) -> ResponseReturnValue:
    with db_session() as session:
        if session.get(Site, site_id) is None:
            return jsonify({"error": "no such site"}), 404
        crawls = store.trend(session, site_id)
        return reply(
            schemas.SiteTrend, {"site_id": site_id, "crawls": [crawl_json(c) for c in crawls]}
        )
