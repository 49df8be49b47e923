"""The links a page carries, read with the standard library's ``html.parser`` (a maintained
parser; never regular expressions on HTML).

Every ``a``, ``area``, ``img``, ``script``, ``link``, ``iframe``, ``frame``, ``source``,
``embed``, ``video``, ``audio``, ``object`` and ``track`` that points somewhere, with the text a
visitor sees for it (an ``a``'s text, an ``img``'s ``alt``), resolved against the page's URL or
its ``<base href>``. Fragments are dropped (``/a#x`` and ``/a#y`` are one link, checked once);
``javascript:``, ``mailto:``, ``tel:`` and ``data:`` are not links a crawler can check.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urldefrag, urljoin, urlsplit

from xunjian.core.contract import URL_LENGTH

# (tag, attribute) pairs that name another resource; srcset is left out (several URLs with
# widths, and the src beside it is what every browser falls back to).
LINK_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "a": ("href",),
    "area": ("href",),
    "img": ("src",),
    "script": ("src",),
    "link": ("href",),
    "iframe": ("src",),
    "frame": ("src",),
    "source": ("src",),
    "embed": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "track": ("src",),
    "object": ("data",),
}
# A page's visitors follow these to other pages; the rest are loaded with the page, so an
# http:// one on an https:// page is mixed content.
NAVIGATION_TAGS = frozenset({"a", "area"})
FRAME_TAGS = frozenset({"iframe", "frame"})
# <link rel=...> values that a browser loads (a stylesheet, an icon); others (canonical,
# alternate) only name a page, like an a href.
LOADED_LINK_RELS = frozenset(
    {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload", "manifest"}
)
NOT_CHECKABLE = ("javascript:", "mailto:", "tel:", "data:", "about:", "blob:", "sms:", "ftp:")
TEXT_LENGTH = 200
MAX_LINKS_PER_PAGE = 5000


@dataclass(frozen=True)
class Link:
    url: str  # absolute, without fragment
    tag: str
    text: str  # what a visitor sees for it, bounded
    loaded: bool  # loaded with the page (img, script, stylesheet), not followed

    @property
    def is_frame(self) -> bool:
        return self.tag in FRAME_TAGS


class _LinkParser(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = page_url
        self.base_seen = False
        self.found: list[tuple[str, str, str, bool]] = []  # raw url, tag, text, loaded
        self.open_anchor: int | None = None  # index in found of the <a> whose text we collect
        self.anchor_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "") for name, value in attrs}
        if tag == "base" and not self.base_seen and values.get("href"):
            # Only the first <base> counts, as in browsers.
            self.base_seen = True
            self.base = urljoin(self.base, values["href"].strip())
            return
        if len(self.found) >= MAX_LINKS_PER_PAGE:
            return
        for attribute in LINK_ATTRIBUTES.get(tag, ()):
            raw = values.get(attribute, "").strip()
            if not raw:
                continue
            if tag == "link":
                rels = set(values.get("rel", "").lower().split())
                loaded = bool(rels & LOADED_LINK_RELS)
            else:
                loaded = tag not in NAVIGATION_TAGS
            text = values.get("alt", "") or values.get("title", "")
            self.found.append((raw, tag, text, loaded))
            if tag == "a":
                self._close_anchor()
                self.open_anchor = len(self.found) - 1
                self.anchor_text = []
        if tag == "img" and self.open_anchor is not None and values.get("alt"):
            self.anchor_text.append(values["alt"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close_anchor()

    def handle_data(self, data: str) -> None:
        if self.open_anchor is not None and sum(map(len, self.anchor_text)) < TEXT_LENGTH:
            self.anchor_text.append(data)

    def _close_anchor(self) -> None:
        if self.open_anchor is None:
            return
        raw, tag, text, loaded = self.found[self.open_anchor]
        seen = " ".join("".join(self.anchor_text).split())
        self.found[self.open_anchor] = (raw, tag, seen or text, loaded)
        self.open_anchor = None
        self.anchor_text = []


def normalise(url: str) -> str | None:
    """``url`` without its fragment, or None when it is not an http(s) URL worth checking."""
    try:
        plain = urldefrag(url)[0]
        parts = urlsplit(plain)
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        return None
    # Bounded in bytes, not characters: a URL with raw Chinese in its path is three bytes a
    # character, and PostgreSQL's index on a site's issues takes at most about 2,700 bytes.
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if len(plain.encode("utf-8", "surrogatepass")) > URL_LENGTH:
        return None
    if not parts.path:
        plain = parts._replace(path="/").geturl()
    return plain


def extract_links(html: str, page_url: str) -> list[Link]:
    """Every checkable link on the page, in document order, each URL once per tag kind."""
    parser = _LinkParser(page_url)
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:  # html.parser's reaction to some malformed markup: keep what we have
        pass
    parser._close_anchor()
    links: list[Link] = []
    seen: set[tuple[str, str]] = set()
    for raw, tag, text, loaded in parser.found:
        if raw.lower().startswith(NOT_CHECKABLE) or raw.startswith("#"):
            continue
        try:
            absolute = urljoin(parser.base, raw)
        except ValueError:
            continue
        url = normalise(absolute)
        if url is None or (url, tag) in seen:
            continue
        seen.add((url, tag))
        links.append(Link(url, tag, " ".join(text.split())[:TEXT_LENGTH], loaded))
    return links
