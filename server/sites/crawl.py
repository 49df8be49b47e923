"""One crawl of a whole site (POLICY.md E13): its pages fetched level by level from the start
URL, every link they carry checked once, and what is wrong with them.

Every request goes through :func:`xunjian.core.probe.fetch`, the page monitors' fetch, with the
server's :class:`~xunjian.core.probe.AddressPolicy` (``monitor_allowed_networks``): a crawl
resolves, checks and pins each address the same way, redirects included, so a site's links can
never turn the crawler against internal addresses an admin did not allow.

Bounds: depth from the start page, pages fetched, bytes read, each page's size (the probe's
cap), each request's deadline, redirects per request; a polite pace shared by every thread
(``rate`` requests a second, ``concurrency`` at once). Pages are crawled on the start URL's
scheme and host (and the hosts an admin lists); every other link is checked, not followed.
A page is a URL that ``a``, ``area``, ``iframe`` or ``frame`` points to in scope, unless its
name ends like a download (``.pdf``, ``.docx``, ...): downloads and everything a page loads
(``img``, ``script``, stylesheets) are checked with HEAD, and with GET when a server refuses
HEAD. ``robots.txt`` of each host in scope is honoured unless the admin turns it off.
"""

from __future__ import annotations

import threading
import time
import urllib.robotparser
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from server.monitors.page import TITLE_LENGTH, found_words, snapshot
from server.sites.links import Link, extract_links, normalise
from xunjian.core.contract import PAGE_MAX_BYTES
from xunjian.core.probe import AddressPolicy, Fetch, fetch

# What a name ends with when it is a download, not a page (checked, not parsed).
DOWNLOAD_SUFFIXES = (
    ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".wps", ".et", ".dps", ".txt",
    ".rtf", ".odt", ".ods", ".odp", ".zip", ".rar", ".7z", ".gz", ".tgz", ".bz2", ".xz", ".tar",
    ".iso", ".exe", ".msi", ".apk", ".dmg", ".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp",
    ".svg", ".ico", ".tif", ".tiff", ".mp3", ".mp4", ".avi", ".wmv", ".flv", ".mov", ".mkv",
    ".wav", ".ogg", ".webm", ".css", ".js", ".json", ".xml", ".csv", ".woff", ".woff2", ".ttf",
)  # fmt: skip
HTML_TYPES = ("text/html", "application/xhtml+xml")
# A HEAD answered with one of these is asked again with GET: servers that do not implement
# HEAD say 405 or 501, some 400, 403 or a 5xx; 404 and 410 are the same whatever the method.
HEAD_REFUSALS = frozenset({400, 403, 405, 406, 429, 500, 501, 502, 503})
GET_CHECK_BYTES = 64 * 1024  # a link checked by GET: its status, not its content
MAX_PAGES_PER_LINK = 50  # occurrences kept per link (its pages and texts)
ROBOTS_BYTES = 512 * 1024
REDIRECTS_ERROR = "redirects"  # the probe's "more than N redirects"
STOPPED = "stopped: the server is stopping"


@dataclass(frozen=True)
class CrawlSettings:
    start_url: str
    extra_hosts: tuple[str, ...] = ()
    max_depth: int = 10
    max_pages: int = 2000
    max_bytes: int = 512 * 1024 * 1024
    rate: float = 2.0  # requests a second, for the whole crawl
    concurrency: int = 2
    timeout: float = 10.0
    max_redirects: int = 5
    robots: bool = True
    ca_file: str = ""
    words: tuple[str, ...] = ()  # the tamper checks' defacement words
    addresses: AddressPolicy = field(default_factory=AddressPolicy)
    page_bytes: int = PAGE_MAX_BYTES
    large_file_bytes: int = 200 * 1024 * 1024  # a download announced bigger is a finding


@dataclass
class PageRecord:
    url: str
    depth: int
    status: int | None
    ms: int
    size: int
    title: str = ""
    error: str = ""
    html: bool = False
    final_url: str = ""


@dataclass
class LinkRecord:
    url: str
    status: int | None
    ms: int
    error: str = ""
    method: str = "HEAD"
    size: int | None = None

    @property
    def problem(self) -> str | None:
        """``broken``, ``redirect_loop``, ``refused`` or None when the link works."""
        if self.status is not None:
            return "broken" if self.status >= 400 else None
        if REDIRECTS_ERROR in self.error and self.error.startswith("more than"):
            return "redirect_loop"
        if self.error.startswith("refused:"):
            return "refused"
        return "broken"

    @property
    def reason(self) -> str:
        """Why it is broken, in short words: ``404``, ``timeout``, ``dns``, the error."""
        if self.status is not None:
            return str(self.status)
        if self.error.startswith("timed out"):
            return "timeout"
        if "cannot resolve" in self.error:
            return "dns"
        return self.error[:200]


@dataclass(frozen=True)
class Occurrence:
    page_url: str
    tag: str
    text: str


@dataclass(frozen=True)
class Finding:
    kind: str  # broken | redirect_loop | refused | mixed_content | defacement | too_large
    url: str  # what is wrong (the link, the resource, the page)
    page_url: str = ""  # where it appears
    detail: str = ""  # the reason: a status, "timeout", the words found
    text: str = ""  # the link's text on that page


@dataclass
class CrawlOutcome:
    pages: list[PageRecord] = field(default_factory=list)
    links: dict[str, LinkRecord] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    bytes_read: int = 0
    requests: int = 0
    limits: list[str] = field(default_factory=list)  # the bounds the crawl met
    skipped_by_robots: int = 0
    stopped: bool = False

    def html_pages(self) -> set[str]:
        return {
            page.url
            for page in self.pages
            if page.html and page.status is not None and 200 <= page.status < 300
        }


class Pace:
    """At most ``rate`` requests a second across every thread of one crawl: each request
    takes the next free slot, so two threads never start together at a polite rate."""

    def __init__(self, rate: float, stop: threading.Event) -> None:
        self.interval = 1.0 / rate
        self.next = time.monotonic()
        self.lock = threading.Lock()
        self.stop = stop

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            slot = max(self.next, now)
            self.next = slot + self.interval
        if slot > now:
            self.stop.wait(slot - now)


def _scope_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


class Crawler:
    def __init__(
        self,
        settings: CrawlSettings,
        stop: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.stop = stop or threading.Event()
        self.pace = Pace(settings.rate, self.stop)
        self.start_key = _scope_key(settings.start_url)
        self.extra = {host.lower() for host in settings.extra_hosts}
        self.robots: dict[tuple[str, str], urllib.robotparser.RobotFileParser | None] = {}
        self.robots_lock = threading.Lock()
        self.counter_lock = threading.Lock()
        self.outcome = CrawlOutcome()
        self.progress = progress

    # -- scope and robots ---------------------------------------------------------------
    def in_scope(self, url: str) -> bool:
        scheme, netloc = _scope_key(url)
        if (scheme, netloc) == self.start_key:
            return True
        host = (urlsplit(url).hostname or "").lower()
        return scheme in ("http", "https") and (netloc in self.extra or host in self.extra)

    def allowed_by_robots(self, url: str) -> bool:
        if not self.settings.robots or not self.in_scope(url):
            return True
        key = _scope_key(url)
        with self.robots_lock:
            if key not in self.robots:
                self.robots[key] = self._read_robots(f"{key[0]}://{key[1]}/robots.txt")
            rules = self.robots[key]
        return rules is None or rules.can_fetch("xunjian-monitor", url)

    def _read_robots(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        """The host's rules, read through the guarded fetch (RobotFileParser.read would open
        its own connection, past the address policy). No robots.txt: everything allowed."""
        got = self._fetch(url, "GET", ROBOTS_BYTES)
        if got.status is None or not 200 <= got.status < 300:
            return None  # 4xx means no rules; a failing robots.txt should not stop the audit
        parser = urllib.robotparser.RobotFileParser(url)
        parser.parse(got.text().splitlines())
        return parser

    # -- requests -------------------------------------------------------------------------
    def _fetch(self, url: str, method: str, max_body: int) -> Fetch:
        if self.stop.is_set():
            # The pool still runs what was queued: without this, a stopping server would
            # fetch the rest of a level at once, past the polite pace.
            return Fetch(url=url, error=STOPPED)
        self.pace.wait()
        got = fetch(
            url,
            timeout=self.settings.timeout,
            max_redirects=self.settings.max_redirects,
            ca_file=self.settings.ca_file,
            max_body=max_body,
            addresses=self.settings.addresses,
            method=method,
        )
        with self.counter_lock:
            self.outcome.requests += 1 + len(got.redirects)
            self.outcome.bytes_read += len(got.body)
        return got

    def _fetch_page(self, url: str, depth: int) -> tuple[PageRecord, list[Link]]:
        got = self._fetch(url, "GET", self.settings.page_bytes)
        kind = got.content_type.split(";", 1)[0].strip().lower()
        is_html = got.status is not None and (kind in HTML_TYPES or (not kind and bool(got.body)))
        record = PageRecord(
            url=url,
            depth=depth,
            status=got.status,
            ms=got.ms,
            size=got.content_length if got.content_length is not None else len(got.body),
            error=got.error,
            html=is_html,
            final_url=got.url,
        )
        links: list[Link] = []
        # A page redirected off the site is checked, not read: its links are another site's.
        own = self.in_scope(got.url)
        if is_html and own and got.status is not None and 200 <= got.status < 300:
            text = got.text()
            snap = snapshot(text, got.url)
            record.title = snap.title[:TITLE_LENGTH]
            words = sorted(found_words(snap, self.settings.words))
            if words:
                self._add(Finding("defacement", url, url, ", ".join(words)[:500]))
            links = extract_links(text, got.url)
            if got.truncated:
                self._add(
                    Finding("too_large", url, url, f"read only the first {len(got.body)} bytes")
                )
        return record, links

    def _check_link(self, url: str) -> LinkRecord:
        got = self._fetch(url, "HEAD", 0)
        method = "HEAD"
        refused_head = got.status in HEAD_REFUSALS or (
            got.status is None
            and not got.error.startswith(("timed out", "refused:", "more than"))
            and "cannot resolve" not in got.error
        )
        if refused_head:
            got, method = self._fetch(url, "GET", GET_CHECK_BYTES), "GET"
        return LinkRecord(url, got.status, got.ms, got.error, method, got.content_length)

    def _add(self, finding: Finding) -> None:
        with self.counter_lock:
            self.outcome.findings.append(finding)

    # -- the crawl --------------------------------------------------------------------------
    def is_page_link(self, link: Link) -> bool:
        if link.loaded and not link.is_frame:
            return False
        if not self.in_scope(link.url):
            return False
        return not urlsplit(link.url).path.lower().endswith(DOWNLOAD_SUFFIXES)

    def run(self) -> CrawlOutcome:
        settings = self.settings
        outcome = self.outcome
        start = normalise(settings.start_url) or settings.start_url
        seen_pages: set[str] = {start}
        level: list[str] = [start]
        occurrences: dict[str, list[Occurrence]] = {}
        page_status: dict[str, PageRecord] = {}
        to_check: dict[str, None] = {}  # insertion-ordered set of links checked with HEAD
        depth = 0
        with ThreadPoolExecutor(settings.concurrency, thread_name_prefix="xunjian-crawl") as pool:
            while level and not self.stop.is_set():
                allowed = []
                for url in level:
                    if len(outcome.pages) + len(allowed) >= settings.max_pages:
                        self._limit(f"page count ({settings.max_pages})")
                        to_check[url] = None
                    elif not self.allowed_by_robots(url):
                        outcome.skipped_by_robots += 1
                    else:
                        allowed.append(url)
                following: list[str] = []
                for record, links in pool.map(self._fetch_page, allowed, [depth] * len(allowed)):
                    if record.error == STOPPED:
                        continue
                    outcome.pages.append(record)
                    page_status[record.url] = record
                    if self.progress is not None:
                        self.progress(len(outcome.pages))
                    if record.final_url and record.final_url != record.url:
                        seen_pages.add(normalise(record.final_url) or record.final_url)
                    page_is_https = urlsplit(record.final_url or record.url).scheme == "https"
                    for link in links:
                        found = occurrences.setdefault(link.url, [])
                        if len(found) < MAX_PAGES_PER_LINK:
                            found.append(Occurrence(record.url, link.tag, link.text))
                        if page_is_https and link.loaded and link.url.startswith("http://"):
                            self._add(
                                Finding("mixed_content", link.url, record.url, link.tag, link.text)
                            )
                        if link.url in seen_pages:
                            continue
                        if self.is_page_link(link) and depth + 1 <= settings.max_depth:
                            seen_pages.add(link.url)
                            following.append(link.url)
                        else:
                            if self.is_page_link(link):
                                self._limit(f"depth ({settings.max_depth})")
                            to_check[link.url] = None
                    if outcome.bytes_read >= settings.max_bytes:
                        self._limit(f"bytes ({settings.max_bytes})")
                if outcome.bytes_read >= settings.max_bytes:
                    to_check.update(dict.fromkeys(following))
                    break
                level = following
                depth += 1
            for url in list(to_check):
                if url in page_status or not self.allowed_by_robots(url):
                    to_check.pop(url)
            for record in pool.map(self._check_link, list(to_check)):
                if record.error != STOPPED:  # not checked: neither broken nor working
                    outcome.links[record.url] = record
        outcome.stopped = self.stop.is_set()
        for record in outcome.pages:
            outcome.links.setdefault(
                record.url,
                LinkRecord(record.url, record.status, record.ms, record.error, "GET", record.size),
            )
        self._judge_links(occurrences)
        return outcome

    def _limit(self, what: str) -> None:
        if what not in self.outcome.limits:
            self.outcome.limits.append(what)

    def _judge_links(self, occurrences: dict[str, list[Occurrence]]) -> None:
        for url, record in self.outcome.links.items():
            problem = record.problem
            where = occurrences.get(url) or [Occurrence("", "", "")]
            if problem is not None:
                for place in where:
                    self._add(Finding(problem, url, place.page_url, record.reason, place.text))
            elif record.size is not None and record.size > self.settings.large_file_bytes:
                for place in where:
                    self._add(
                        Finding(
                            "too_large", url, place.page_url, f"{record.size} bytes", place.text
                        )
                    )


def crawl(
    settings: CrawlSettings,
    stop: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
) -> CrawlOutcome:
    """Crawl the site; never raises for what the site does (every failure is a record)."""
    return Crawler(settings, stop, progress).run()
