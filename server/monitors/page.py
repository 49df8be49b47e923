"""What a page says, for tamper detection: its visible text, title and external domains,
with the standard library's ``html.parser`` (no new dependency).

Left out of the text: ``script``, ``style``, ``noscript``, ``template`` and the parts an admin
marks volatile, by a small CSS selector subset (``tag``, ``#id``, ``.class``, ``tag.class``,
``tag#id``) or by a regular expression applied to the text (a visitor counter, today's date).
The text is normalised (whitespace collapsed, one line per block, empty lines dropped) and
hashed; two texts are compared by ``difflib`` on their lines.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template"})
VOID_TAGS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "td",
        "th",
        "tr",
        "ul",
        "title",
    }
)
# Where a page points other origins to: (tag, attribute).
LINK_ATTRIBUTES = {
    "script": "src",
    "iframe": "src",
    "frame": "src",
    "a": "href",
    "link": "href",
    "form": "action",
    "embed": "src",
    "object": "data",
}
SELECTOR = re.compile(r"^(?P<tag>[a-zA-Z][a-zA-Z0-9-]*)?(?:(?P<kind>[.#])(?P<name>[\w-]+))?$")
MAX_SELECTORS = 20
MAX_PATTERNS = 20
SELECTOR_LENGTH = 100
PATTERN_LENGTH = 200
MAX_LINES = 5000
LINE_LENGTH = 2000
TITLE_LENGTH = 500
DIFF_LINES = 60
DIFF_CHARS = 4000


class VolatileError(ValueError):
    """A volatile selector or pattern is not in the supported form; the message says which."""


@dataclass(frozen=True)
class Selector:
    tag: str | None
    element_id: str | None
    class_name: str | None

    def matches(self, tag: str, attrs: dict[str, str]) -> bool:
        if self.tag is not None and self.tag != tag:
            return False
        if self.element_id is not None and attrs.get("id") != self.element_id:
            return False
        if self.class_name is not None:
            return self.class_name in attrs.get("class", "").split()
        return True


def parse_selector(text: str) -> Selector:
    match = SELECTOR.fullmatch(text.strip())
    if not text.strip() or len(text) > SELECTOR_LENGTH or match is None:
        raise VolatileError(
            f"volatile selector {text[:SELECTOR_LENGTH]!r}: use tag, #id, .class, tag.class "
            "or tag#id"
        )
    kind, name = match.group("kind"), match.group("name")
    tag = match.group("tag")
    return Selector(
        tag.lower() if tag else None,
        name if kind == "#" else None,
        name if kind == "." else None,
    )


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    compiled = []
    for pattern in patterns:
        if not pattern or len(pattern) > PATTERN_LENGTH:
            raise VolatileError(f"volatile pattern must be 1..{PATTERN_LENGTH} characters")
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise VolatileError(f"volatile pattern {pattern!r}: {error}") from error
    return compiled


def check_volatile(selectors: Sequence[str], patterns: Sequence[str]) -> None:
    if len(selectors) > MAX_SELECTORS or len(patterns) > MAX_PATTERNS:
        raise VolatileError(f"at most {MAX_SELECTORS} selectors and {MAX_PATTERNS} patterns")
    for selector in selectors:
        parse_selector(selector)
    compile_patterns(patterns)


@dataclass(frozen=True)
class PageSnapshot:
    text: str  # normalised lines joined by "\n"
    text_hash: str
    title: str
    domains: tuple[str, ...]  # hosts other than the page's own, sorted

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n") if self.text else []


class _Extractor(HTMLParser):
    def __init__(self, selectors: Sequence[Selector]) -> None:
        super().__init__(convert_charrefs=True)
        self.selectors = selectors
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.links: list[str] = []
        self.in_title = False
        # While skipping: the tag that started it and how deep we are in it.
        self.skip_tag: str | None = None
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        attribute = LINK_ATTRIBUTES.get(tag)
        if attribute and values.get(attribute):
            self.links.append(values[attribute])
        if self.skip_tag is not None:
            if tag == self.skip_tag and tag not in VOID_TAGS:
                self.skip_depth += 1
            return
        if tag in VOID_TAGS:
            if tag in BLOCK_TAGS:
                self.parts.append("\n")
            return
        if tag in HIDDEN_TAGS or any(s.matches(tag, values) for s in self.selectors):
            self.skip_tag, self.skip_depth = tag, 1
            return
        if tag == "title":
            self.in_title = True
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        attribute = LINK_ATTRIBUTES.get(tag)
        if attribute and values.get(attribute):
            self.links.append(values[attribute])
        if self.skip_tag is None and tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if tag == "title":
            self.in_title = False
        if tag in BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip_tag is not None:
            return
        if self.in_title:
            self.title_parts.append(data)
        else:
            self.parts.append(data)


def _normalise(text: str, patterns: Sequence[re.Pattern[str]]) -> list[str]:
    lines = []
    for raw in text.split("\n"):
        line = " ".join(raw.split())
        for pattern in patterns:
            line = pattern.sub("", line)
        line = " ".join(line.split())
        if line:
            lines.append(line[:LINE_LENGTH])
        if len(lines) >= MAX_LINES:
            break
    return lines


def host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def snapshot(
    html: str,
    page_url: str,
    selectors: Sequence[str] = (),
    patterns: Sequence[str] = (),
) -> PageSnapshot:
    """The page's snapshot. Selectors and patterns were validated when the monitor was saved;
    an invalid one here is a bug, so it raises ``VolatileError``."""
    extractor = _Extractor([parse_selector(s) for s in selectors])
    try:
        extractor.feed(html)
        extractor.close()
    except AssertionError:  # html.parser's reaction to some malformed markup: keep what we have
        pass
    compiled = compile_patterns(patterns)
    lines = _normalise("".join(extractor.parts), compiled)
    text = "\n".join(lines)
    title = " ".join("".join(extractor.title_parts).split())[:TITLE_LENGTH]
    own = host_of(page_url)
    domains = set()
    for link in extractor.links:
        link = link.strip()
        if link.lower().startswith(("javascript:", "mailto:", "tel:", "data:", "#")):
            continue
        try:
            host = host_of(urljoin(page_url, link))
        except ValueError:
            continue
        if host and host != own:
            domains.add(host)
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return PageSnapshot(text, digest, title, tuple(sorted(domains)))


@dataclass(frozen=True)
class Verdict:
    """How a page compares with its baseline. ``tampered`` when any reason is given."""

    similarity: float = 1.0
    new_domains: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    text_changed: bool = False
    diff: str = ""
    reasons: tuple[str, ...] = field(default=())

    @property
    def tampered(self) -> bool:
        return bool(self.reasons)


def similarity(before: Sequence[str], after: Sequence[str]) -> float:
    return difflib.SequenceMatcher(None, list(before), list(after), autojunk=False).ratio()


def readable_diff(before: Sequence[str], after: Sequence[str]) -> str:
    """A unified diff of the two texts' lines, bounded in lines and characters."""
    lines = list(
        difflib.unified_diff(list(before), list(after), "baseline", "now", n=1, lineterm="")
    )
    shown = lines[:DIFF_LINES]
    text = "\n".join(shown)
    if len(text) > DIFF_CHARS:
        text = text[:DIFF_CHARS] + "\n…"
    elif len(lines) > DIFF_LINES:
        text += f"\n… ({len(lines) - DIFF_LINES} more diff lines)"
    return text


def found_words(snap: PageSnapshot, words: Iterable[str]) -> set[str]:
    haystack = f"{snap.title}\n{snap.text}".lower()
    return {word for word in words if word and word in haystack}


def compare(
    baseline_text: str | Callable[[], str],
    baseline_hash: str,
    baseline_title: str,
    baseline_domains: Sequence[str],
    now: PageSnapshot,
    words: Iterable[str],
    threshold_percent: int,
) -> Verdict:
    """Judge ``now`` against the baseline. A defacement word counts only when the baseline
    did not already contain it (a school page may mention 入侵 in a security notice)."""
    if now.text_hash == baseline_hash and set(now.domains) <= set(baseline_domains):
        return Verdict()
    if callable(baseline_text):  # read only when the page differs (the usual case is above)
        baseline_text = baseline_text()
    reasons = []
    new_domains = tuple(sorted(set(now.domains) - set(baseline_domains)))
    if new_domains:
        reasons.append(f"new external domains: {', '.join(new_domains)}")
    base_lines = baseline_text.split("\n") if baseline_text else []
    base_snap = PageSnapshot(baseline_text, baseline_hash, baseline_title, ())
    words = list(words)
    new_words = tuple(sorted(found_words(now, words) - found_words(base_snap, words)))
    if new_words:
        reasons.append(f"defacement words: {', '.join(new_words)}")
    ratio, diff, changed = 1.0, "", now.text_hash != baseline_hash
    if changed:
        before = ([baseline_title] if baseline_title else []) + base_lines
        after = ([now.title] if now.title else []) + now.lines
        ratio = similarity(before, after)
        diff = readable_diff(before, after)
        if ratio * 100 < threshold_percent:
            reasons.append(
                f"text changed: {ratio * 100:.0f}% similar (threshold {threshold_percent}%)"
            )
    return Verdict(ratio, new_domains, new_words, changed, diff, tuple(reasons))
