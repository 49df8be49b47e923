"""A page's links as the crawler reads them (server/sites/links.py, html.parser)."""

from __future__ import annotations

from server.sites.links import extract_links, normalise

PAGE = """<!doctype html><html><head><base href="https://school.example/news/">
<link rel="stylesheet" href="/s.css"><link rel="canonical" href="https://school.example/n">
<script src="app.js"></script></head><body>
<a href="2024/a.html#top">通知 <b>一</b></a>
<a href="2024/a.html#bottom">again</a>
<a href="javascript:void(0)">js</a> <a href="mailto:x@school.example">mail</a>
<a href="#here">here</a> <a href="http://[::1">bad</a>
<a href="/files/plan.pdf"><img src="/i/pdf.png" alt="计划"></a>
<iframe src="http://video.example/embed"></iframe>
<p>unclosed <a href="/x">x
</body></html>"""


def test_links_are_resolved_typed_and_named() -> None:
    links = extract_links(PAGE, "https://school.example/index.html")
    shown = [(link.tag, link.url, link.text, link.loaded) for link in links]
    assert shown == [
        ("link", "https://school.example/s.css", "", True),
        ("link", "https://school.example/n", "", False),
        ("script", "https://school.example/news/app.js", "", True),
        ("a", "https://school.example/news/2024/a.html", "通知 一", False),
        ("a", "https://school.example/files/plan.pdf", "计划", False),
        ("img", "https://school.example/i/pdf.png", "计划", True),
        ("iframe", "http://video.example/embed", "", True),
        ("a", "https://school.example/x", "x", False),
    ]


def test_normalise_keeps_only_checkable_http_urls() -> None:
    assert normalise("https://school.example") == "https://school.example/"
    assert normalise("https://school.example/a#b") == "https://school.example/a"
    assert normalise("ftp://school.example/") is None
    assert normalise("https://school.example:99999/") is None
    assert normalise("https://" + "a" * 3000 + ".example/") is None
    assert (
        normalise("https://school.example/" + "通知" * 400) is None
    )  # 800 characters, 2,400 bytes
    assert normalise("https://school.example/" + "通知" * 100) is not None


def test_a_broken_links_reason_reads_the_probes_own_words() -> None:
    from server.sites.crawl import LinkRecord

    def reason(status: int | None, error: str = "") -> tuple[str | None, str]:
        record = LinkRecord("https://school.example/", status, 5, error)
        return record.problem, record.reason

    assert reason(404) == ("broken", "404")
    assert reason(200) == (None, "200")
    assert reason(None, "timed out after 10 s") == ("broken", "timeout")
    assert reason(None, "OSError: cannot resolve a.example: Name or service not known") == (
        "broken",
        "dns",
    )
    assert reason(None, "more than 5 redirects")[0] == "redirect_loop"
    assert reason(None, "refused: 10.0.0.1 is a private or reserved address")[0] == "refused"
