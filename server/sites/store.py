"""Sites and their crawls in the store: settings validated through ``schemas.SiteSettings``,
the daily schedule and its claim, a crawl's outcome written in one transaction with the broken
links' issues and the site's one ``broken_links`` alert (server/alerts), and the reads the API,
console, digest and weekly report share."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from msgspec import UNSET
from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server.alerts.models import Alert, open_key
from server.monitors.models import Monitor
from server.sites.crawl import CrawlOutcome, CrawlSettings
from server.sites.models import (
    KEEP_CRAWLS,
    Site,
    SiteCrawl,
    SiteFinding,
    SiteIssue,
    SitePage,
)
from server.sites.schemas import NewSite, SiteSettings
from server.store.models import utcnow
from xunjian.core.probe import AddressPolicy, UrlError, check_url
from xunjian.core.schema import BodyError, convert

ALERT_KIND = "broken_links"
ALERT_SEVERITY = "medium"
CLAIM_HOURS = 6  # a crawl's claim; a process killed mid-crawl leaves it to expire
MESSAGE_LINKS = 30
MAX_FINDINGS = 20_000  # rows of one crawl kept (one per place); the counts stay whole


class FieldError(ValueError):
    """A site's settings are not acceptable; the message names the field."""


class ConflictError(ValueError):
    """The change conflicts with what the store holds."""


def check_id(site_id: int) -> str:
    return f"site:{site_id}"


def alert_key(site_id: int) -> str:
    return open_key(ALERT_KIND, None, check_id(site_id), "")


def validate(payload: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The settings given, checked by the model and then by what a model cannot say (the
    URL's parts, a CA file that exists); only the fields given."""
    try:
        model = convert(payload, NewSite if creating else SiteSettings)
    except BodyError as error:
        raise FieldError(str(error)) from error
    values = {name: getattr(model, name) for name in model.__struct_fields__}
    values = {name: value for name, value in values.items() if value is not UNSET}
    if "start_url" in values and values["start_url"] is not None:
        try:
            values["start_url"] = check_url(values["start_url"])
        except UrlError as error:
            raise FieldError(f"start_url: {error}") from error
    if values.get("ca_file") and not Path(values["ca_file"]).is_file():
        raise FieldError(f"ca_file: no such file {values['ca_file'][:200]!r}")
    if "extra_hosts" in values:
        values["extra_hosts"] = [host.strip().lower() for host in values["extra_hosts"]]
    return values


def first_due(crawl_at: str, zone: str, now: datetime.datetime) -> datetime.datetime:
    """The next ``crawl_at`` in ``zone`` after ``now``, as naive UTC."""
    tz = ZoneInfo(zone)
    local = now.replace(tzinfo=datetime.UTC).astimezone(tz)
    hour, minute = (int(part) for part in crawl_at.split(":"))
    due = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if due <= local:
        due += datetime.timedelta(days=1)
    return due.astimezone(datetime.UTC).replace(tzinfo=None)


def create_site(
    session: Session, values: dict[str, Any], actor: str, zone: str, now: datetime.datetime
) -> Site:
    monitor_id = values.get("monitor_id")
    if monitor_id is not None:
        monitor = session.get(Monitor, monitor_id)
        if monitor is None:
            raise FieldError(f"monitor_id: no monitor {monitor_id}")
        values.setdefault("start_url", monitor.url)
        if values.get("start_url") is None:
            values["start_url"] = monitor.url
        values.setdefault("name", monitor.name)
    if not values.get("start_url"):
        raise FieldError("start_url: is required (or monitor_id)")
    if session.scalar(select(Site.id).where(Site.start_url == values["start_url"])) is not None:
        raise ConflictError(f"a site already starts at {values['start_url']}")
    site = Site(
        created_at=now,
        created_by=actor,
        next_due_at=first_due(values.get("crawl_at") or "02:30", zone, now),
        crawl_requested=False,
        extra_hosts=[],
    )
    for name, value in values.items():
        if value is not None:
            setattr(site, name, value)
    if not site.name:
        site.name = site.start_url
    session.add(site)
    session.flush()
    return site


def change_site(
    session: Session, site: Site, values: dict[str, Any], zone: str, now: datetime.datetime
) -> None:
    for name, value in values.items():
        if name == "monitor_id" or value is None:
            continue  # a site's origin is fixed when it is made
        setattr(site, name, value)
    if not site.name:
        site.name = site.start_url
    if "crawl_at" in values:
        site.next_due_at = first_due(site.crawl_at, zone, now)


def crawl_settings(
    site: Site, words: Sequence[str], addresses: AddressPolicy, page_bytes: int | None = None
) -> CrawlSettings:
    extra: dict[str, Any] = {} if page_bytes is None else {"page_bytes": page_bytes}
    return CrawlSettings(
        start_url=site.start_url,
        extra_hosts=tuple(site.extra_hosts or ()),
        max_depth=site.max_depth,
        max_pages=site.max_pages,
        max_bytes=site.max_bytes,
        rate=site.rate,
        concurrency=site.concurrency,
        timeout=float(site.timeout_seconds),
        max_redirects=site.max_redirects,
        robots=site.robots,
        ca_file=site.ca_file,
        words=tuple(words),
        addresses=addresses,
        **extra,
    )


# -- the schedule -------------------------------------------------------------------------


def request_crawl(session: Session, site: Site) -> None:
    """ "Crawl now": the scheduler takes it on its next tick."""
    site.crawl_requested = True


def claim_due(
    engine: Engine, name: str, zone: str, now: datetime.datetime | None = None
) -> int | None:
    """Claim one due site (its scheduled time passed, or a crawl was asked for) for this
    process by conditional UPDATE; its id, or None."""
    now = now or utcnow()
    free = or_(Site.claimed_until.is_(None), Site.claimed_until < now)
    due = or_(Site.next_due_at <= now, Site.crawl_requested.is_(True))
    with engine.connect() as connection:
        rows = connection.execute(
            select(Site.id, Site.next_due_at, Site.crawl_at, Site.crawl_requested)
            .where(Site.enabled.is_(True), due, free)
            .order_by(Site.crawl_requested.desc(), Site.next_due_at)
            .limit(5)
        ).all()
    for site_id, due_at, crawl_at, requested in rows:
        following = due_at if requested and due_at > now else first_due(crawl_at, zone, now)
        with engine.begin() as connection:
            changed = connection.execute(
                update(Site)
                .where(Site.id == site_id, Site.next_due_at == due_at, free)
                .values(
                    next_due_at=following,
                    crawl_requested=False,
                    claimed_by=name,
                    claimed_until=now + datetime.timedelta(hours=CLAIM_HOURS),
                )
            ).rowcount
        if changed == 1:
            return int(site_id)
    return None


def begin_crawl(engine: Engine, site_id: int, now: datetime.datetime | None = None) -> int:
    with Session(engine) as session:
        crawl = SiteCrawl(site_id=site_id, state="running", started_at=now or utcnow())
        session.add(crawl)
        session.commit()
        return crawl.id


# -- a crawl's outcome --------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    crawl_id: int
    broken: set[str]
    new_broken: set[str]
    fixed: set[str]
    alert_opened: bool
    alert_resolved: bool


def _insert(engine: Any) -> Any:
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert


def _previous_pages(session: Session, site_id: int, crawl_id: int) -> set[str] | None:
    previous = session.scalar(
        select(SiteCrawl.id)
        .where(SiteCrawl.site_id == site_id, SiteCrawl.state == "done", SiteCrawl.id < crawl_id)
        .order_by(SiteCrawl.id.desc())
        .limit(1)
    )
    if previous is None:
        return None
    return set(
        session.scalars(
            select(SitePage.url).where(
                SitePage.crawl_id == previous,
                SitePage.html.is_(True),
                SitePage.status >= 200,
                SitePage.status < 300,
            )
        )
    )


def record_crawl(
    engine: Engine,
    site_id: int,
    crawl_id: int,
    outcome: CrawlOutcome,
    now: datetime.datetime | None = None,
    claimed_by: str | None = None,
) -> Recorded:
    """Write the crawl's pages and findings, move the site's issues, open or resolve its
    alert, in one transaction."""
    now = now or utcnow()
    with Session(engine, expire_on_commit=False) as session:
        site = session.get(Site, site_id)
        crawl = session.get(SiteCrawl, crawl_id)
        if site is None or crawl is None:
            raise ConflictError(f"site {site_id} or crawl {crawl_id} is gone")
        findings = list(outcome.findings)
        pages_now = outcome.html_pages()
        before = _previous_pages(session, site_id, crawl_id)
        if before is not None and not outcome.stopped:
            findings += [SiteFindingRow("new_page", url) for url in sorted(pages_now - before)]
            if not outcome.limits:  # a crawl cut short by a bound did not see every page
                findings += [SiteFindingRow("gone_page", url) for url in sorted(before - pages_now)]
        session.add_all(
            SitePage(
                crawl_id=crawl_id,
                url=page.url,
                depth=page.depth,
                status=page.status,
                ms=page.ms,
                size=page.size,
                title=page.title[:500],
                error=page.error[:300],
                html=page.html,
            )
            for page in outcome.pages
        )
        session.add_all(
            SiteFinding(
                crawl_id=crawl_id,
                kind=finding.kind,
                url=finding.url,
                page_url=finding.page_url,
                detail=finding.detail[:500],
                text=finding.text[:200],
            )
            for finding in findings[:MAX_FINDINGS]
        )
        broken = {f.url: f.detail for f in findings if f.kind == "broken"}
        issues = {
            issue.url: issue
            for issue in session.scalars(select(SiteIssue).where(SiteIssue.site_id == site_id))
        }
        new_broken: set[str] = set()
        fixed: set[str] = set()
        for url, reason in broken.items():
            issue = issues.get(url)
            if issue is None:
                session.add(
                    SiteIssue(
                        site_id=site_id,
                        url=url,
                        reason=reason[:200],
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                )
                new_broken.add(url)
            else:
                if issue.resolved_at is not None:
                    issue.resolved_at = None
                    issue.first_seen_at = now
                    new_broken.add(url)
                issue.last_seen_at, issue.reason = now, reason[:200]
        if not outcome.stopped:
            # A crawl that ran to its end and did not find a link broken fixed it: it works
            # again, or no page carries it any more (nobody can follow it).
            for url, issue in issues.items():
                if issue.resolved_at is None and url not in broken:
                    issue.resolved_at = now
                    fixed.add(url)
        crawl.state = "stopped" if outcome.stopped else "done"
        crawl.finished_at = now
        crawl.pages = len(outcome.pages)
        crawl.links = len(outcome.links)
        crawl.requests = outcome.requests
        crawl.bytes_read = outcome.bytes_read
        crawl.broken = len(broken)
        crawl.new_broken = len(new_broken)
        crawl.fixed = len(fixed)
        crawl.findings = len(findings)
        crawl.limits = ", ".join(outcome.limits)[:500]
        site.last_crawl_id = crawl_id
        if claimed_by is None or site.claimed_by == claimed_by:
            site.claimed_by, site.claimed_until = None, None
        opened, resolved = _alert(session, site, broken, new_broken, now)
        session.flush()
        _prune(session, site_id)
        session.commit()
    return Recorded(crawl_id, set(broken), new_broken, fixed, opened, resolved)


@dataclass(frozen=True)
class SiteFindingRow:
    """A finding made here, not by the crawler (pages new or gone since the last crawl)."""

    kind: str
    url: str
    page_url: str = ""
    detail: str = ""
    text: str = ""


def _alert(
    session: Session,
    site: Site,
    broken: dict[str, str],
    new_broken: set[str],
    now: datetime.datetime,
) -> tuple[bool, bool]:
    """One alert per site: opened by a crawl that finds broken links the site did not have,
    kept (not doubled) while it is open, resolved by a crawl that finds none."""
    key = alert_key(site.id)
    if not broken:
        resolved = session.execute(
            update(Alert).where(Alert.open_key == key).values(resolved_at=now, open_key=None)
        ).rowcount
        return False, resolved > 0
    if not new_broken:
        return False, False
    listed = sorted(new_broken)[:MESSAGE_LINKS]
    lines = [f"{url} ({broken[url]})" for url in listed]
    more = len(new_broken) - len(listed)
    message = (
        f"{site.start_url}: {len(new_broken)} new broken links "
        f"({len(broken)} broken in all)\n" + "\n".join(lines) + (f"\n… {more} more" if more else "")
    )
    insert = _insert(session.get_bind())
    opened = session.execute(
        insert(Alert)
        .values(
            kind=ALERT_KIND,
            severity=ALERT_SEVERITY,
            agent_id=None,
            check_id=check_id(site.id),
            resource=site.start_url[:200],
            message=message,
            open_key=key,
            opened_at=now,
        )
        .on_conflict_do_nothing(index_elements=["open_key"])
    ).rowcount
    return opened > 0, False


def _prune(session: Session, site_id: int) -> None:
    """Keep the newest ``KEEP_CRAWLS`` crawls of the site (their pages and findings go with
    them by cascade; deleted here too, for SQLite connections without foreign keys on)."""
    old = list(
        session.scalars(
            select(SiteCrawl.id)
            .where(SiteCrawl.site_id == site_id)
            .order_by(SiteCrawl.id.desc())
            .offset(KEEP_CRAWLS)
        )
    )
    if old:
        session.execute(delete(SiteFinding).where(SiteFinding.crawl_id.in_(old)))
        session.execute(delete(SitePage).where(SitePage.crawl_id.in_(old)))
        session.execute(delete(SiteCrawl).where(SiteCrawl.id.in_(old)))


def fail_crawl(engine: Engine, site_id: int, crawl_id: int, error: str) -> None:
    with Session(engine) as session:
        crawl = session.get(SiteCrawl, crawl_id)
        site = session.get(Site, site_id)
        if crawl is not None:
            crawl.state, crawl.error, crawl.finished_at = "failed", error[:500], utcnow()
        if site is not None:
            site.claimed_by, site.claimed_until = None, None
        session.commit()


# -- reads ----------------------------------------------------------------------------------


def last_crawl(session: Session, site_id: int) -> SiteCrawl | None:
    return session.scalar(
        select(SiteCrawl)
        .where(SiteCrawl.site_id == site_id, SiteCrawl.state.in_(("done", "stopped")))
        .order_by(SiteCrawl.id.desc())
        .limit(1)
    )


def trend(session: Session, site_id: int, count: int = KEEP_CRAWLS) -> list[SiteCrawl]:
    """The site's last ``count`` finished crawls, oldest first."""
    crawls = list(
        session.scalars(
            select(SiteCrawl)
            .where(SiteCrawl.site_id == site_id, SiteCrawl.state.in_(("done", "stopped")))
            .order_by(SiteCrawl.id.desc())
            .limit(count)
        )
    )
    return crawls[::-1]


def findings_of(
    session: Session, crawl_id: int, kind: str | None = None, limit: int = 1000, offset: int = 0
) -> tuple[list[SiteFinding], int]:
    query = select(SiteFinding).where(SiteFinding.crawl_id == crawl_id)
    counting = select(func.count()).select_from(SiteFinding).where(SiteFinding.crawl_id == crawl_id)
    if kind is not None:
        query = query.where(SiteFinding.kind == kind)
        counting = counting.where(SiteFinding.kind == kind)
    rows = list(
        session.scalars(
            query.order_by(SiteFinding.kind, SiteFinding.page_url, SiteFinding.url, SiteFinding.id)
            .limit(limit)
            .offset(offset)
        )
    )
    return rows, int(session.scalar(counting) or 0)


def pages_of(
    session: Session, crawl_id: int, limit: int, offset: int
) -> tuple[list[SitePage], int]:
    rows = list(
        session.scalars(
            select(SitePage)
            .where(SitePage.crawl_id == crawl_id)
            .order_by(SitePage.depth, SitePage.url, SitePage.id)
            .limit(limit)
            .offset(offset)
        )
    )
    total = session.scalar(
        select(func.count()).select_from(SitePage).where(SitePage.crawl_id == crawl_id)
    )
    return rows, int(total or 0)


def kind_counts(session: Session, crawl_id: int) -> dict[str, int]:
    """Findings of the crawl by kind; broken links counted once each, not per page."""
    counts = {
        kind: int(number)
        for kind, number in session.execute(
            select(SiteFinding.kind, func.count(func.distinct(SiteFinding.url)))
            .where(SiteFinding.crawl_id == crawl_id)
            .group_by(SiteFinding.kind)
        )
    }
    return counts


def broken_by_page(session: Session, crawl_id: int) -> list[tuple[str, list[SiteFinding]]]:
    """The crawl's broken links grouped by the page they appear on, most first."""
    groups: dict[str, list[SiteFinding]] = {}
    for finding in session.scalars(
        select(SiteFinding)
        .where(SiteFinding.crawl_id == crawl_id, SiteFinding.kind == "broken")
        .order_by(SiteFinding.page_url, SiteFinding.url)
    ):
        groups.setdefault(finding.page_url, []).append(finding)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def open_issues(session: Session, site_id: int) -> list[SiteIssue]:
    return list(
        session.scalars(
            select(SiteIssue)
            .where(SiteIssue.site_id == site_id, SiteIssue.resolved_at.is_(None))
            .order_by(SiteIssue.url)
        )
    )


@dataclass(frozen=True)
class SiteStatus:
    """A site's E13 status at a moment: its newest finished crawl before it."""

    site_id: int
    name: str
    start_url: str
    crawled_at: datetime.datetime | None
    pages: int
    broken: int
    status: str  # pass | fail | not_crawled
    new_broken: int = 0
    fixed: int = 0
    crawl_id: int | None = None


def statuses(
    engine: Engine, start: datetime.datetime | None = None, end: datetime.datetime | None = None
) -> list[SiteStatus]:
    """Each site's E13 status from its newest finished crawl in ``[start, end)`` (any time
    when not given): ``pass`` without broken links, ``fail`` with, ``not_crawled``."""
    result = []
    with Session(engine) as session:
        for site in session.scalars(select(Site).order_by(Site.id)):
            query = select(SiteCrawl).where(
                SiteCrawl.site_id == site.id, SiteCrawl.state.in_(("done", "stopped"))
            )
            if start is not None:
                query = query.where(SiteCrawl.finished_at >= start)
            if end is not None:
                query = query.where(SiteCrawl.finished_at < end)
            crawl = session.scalar(query.order_by(SiteCrawl.id.desc()).limit(1))
            if crawl is None:
                result.append(
                    SiteStatus(site.id, site.name, site.start_url, None, 0, 0, "not_crawled")
                )
                continue
            result.append(
                SiteStatus(
                    site.id,
                    site.name,
                    site.start_url,
                    crawl.finished_at,
                    crawl.pages,
                    crawl.broken,
                    "fail" if crawl.broken else "pass",
                    crawl.new_broken,
                    crawl.fixed,
                    crawl.id,
                )
            )
    return result
