"""Site health's REST bodies (``/api/v1/sites...``, server/sites/api.py) and the settings the
API, console and command line all validate through (``server.sites.store.validate``): each
field's bounds are written here once (docs/architecture.md, "Bodies and validation")."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from server.rest import Paging
from server.sites.models import FINDING_KINDS, URL_LENGTH
from xunjian.core.schema import Body

MAX_EXTRA_HOSTS = 20
HOST_LENGTH = 255
MAX_PAGES = 100_000
MAX_BYTES = 20 * 1024 * 1024 * 1024

Url = Annotated[str, Meta(min_length=1, max_length=URL_LENGTH)]
Host = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=HOST_LENGTH,
        pattern=r"^[A-Za-z0-9.\[\]:-]+$",
        description="a host name, or host:port",
    ),
]


class SiteSettings(Body):
    """A change to a site: only the fields given are changed."""

    start_url: Url | UnsetType = UNSET
    name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    monitor_id: (
        Annotated[int, Meta(ge=1, le=2**31 - 1, description="start from this page monitor's URL")]
        | UnsetType
        | None
    ) = UNSET
    enabled: bool | UnsetType = UNSET
    extra_hosts: (
        Annotated[list[Host], Meta(max_length=MAX_EXTRA_HOSTS, description="crawled too")]
        | UnsetType
    ) = UNSET
    crawl_at: (
        Annotated[
            str,
            Meta(
                pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
                description="daily, HH:MM in monitor_digest_timezone (default: console_timezone)",
            ),
        ]
        | UnsetType
    ) = UNSET
    max_depth: Annotated[int, Meta(ge=0, le=50)] | UnsetType = UNSET
    max_pages: Annotated[int, Meta(ge=1, le=MAX_PAGES)] | UnsetType = UNSET
    max_bytes: Annotated[int, Meta(ge=1024 * 1024, le=MAX_BYTES)] | UnsetType = UNSET
    rate: Annotated[float, Meta(gt=0, le=50, description="requests a second")] | UnsetType = UNSET
    concurrency: Annotated[int, Meta(ge=1, le=8)] | UnsetType = UNSET
    timeout_seconds: Annotated[int, Meta(ge=1, le=60)] | UnsetType = UNSET
    max_redirects: Annotated[int, Meta(ge=0, le=10)] | UnsetType = UNSET
    robots: (
        Annotated[bool, Meta(description="honour robots.txt (turn off for your own site)")]
        | UnsetType
    ) = UNSET
    ca_file: (
        Annotated[str, Meta(max_length=1000, description="absolute, on the server")] | UnsetType
    ) = UNSET


class NewSite(SiteSettings, kw_only=True):
    """A new site: ``start_url``, or ``monitor_id`` to start from a page monitor's URL."""


class FindingsQuery(Paging, kw_only=True):
    kind: Literal[FINDING_KINDS] | None = None  # type: ignore[valid-type]
    crawl_id: Annotated[int, Meta(ge=1, le=2**31 - 1)] | None = None


# -- answers ---------------------------------------------------------------------------------
class SiteCrawl(Body):
    id: int
    state: str
    started_at: str | None
    finished_at: str | None
    pages: int
    links: int
    requests: int
    bytes_read: int
    broken: int
    new_broken: int
    fixed: int
    findings: int
    limits: str
    error: str


class Site(Body):
    id: int
    name: str
    start_url: str
    monitor_id: int | None
    enabled: bool
    extra_hosts: list[str]
    crawl_at: str
    max_depth: int
    max_pages: int
    max_bytes: int
    rate: float
    concurrency: int
    timeout_seconds: int
    max_redirects: int
    robots: bool
    ca_file: str
    next_due_at: str | None
    crawl_requested: bool
    crawling: bool
    created_at: str | None
    created_by: str
    last_crawl: SiteCrawl | None
    open_broken: int


class SiteList(Body):
    sites: list[Site]


class CrawlRequested(Body):
    site_id: int
    crawl_requested: bool


class SiteFinding(Body):
    kind: str
    url: str
    page_url: str
    detail: str
    text: str


class SiteFindings(Body):
    site_id: int
    crawl: SiteCrawl | None
    counts: dict[str, int]
    findings: list[SiteFinding]
    total: int
    limit: int
    offset: int


class PagesQuery(Paging, kw_only=True):
    crawl_id: Annotated[int, Meta(ge=1, le=2**31 - 1)] | None = None


class SitePage(Body):
    url: str
    depth: int
    status: int | None
    ms: int
    size: int
    title: str
    error: str
    html: bool


class SitePages(Body):
    site_id: int
    crawl: SiteCrawl | None
    pages: list[SitePage]
    total: int
    limit: int
    offset: int


class SiteTrend(Body):
    site_id: int
    crawls: list[SiteCrawl]
