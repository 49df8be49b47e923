"""The page snapshot and comparison (pure functions): what counts as visible text, volatile
parts by selector and pattern, external domains, similarity and the bounded diff."""

from __future__ import annotations

import pytest

from server.monitors.judge import Flap, StatusesError, advance, parse_statuses
from server.monitors.page import (
    DIFF_LINES,
    VolatileError,
    check_volatile,
    compare,
    parse_selector,
    snapshot,
)
from tests.monitors.site import home
from xunjian.core.probe import UrlError, check_url

URL = "https://www.school.example/index.html"


def test_visible_text_leaves_out_scripts_styles_and_volatile_parts() -> None:
    snap = snapshot(home(), URL, ["#counter", "p.updated"], [])
    assert snap.title == "示范学校 Example School"
    assert "欢迎访问示范学校网站。Welcome to the Example School." in snap.lines
    text = snap.text
    assert "visits" not in text and "color" not in text  # script and style
    assert "访问量" not in text and "更新时间" not in text  # volatile selectors
    assert snap.domains == ("www.moe.gov.cn",)


def test_nested_volatile_elements_are_skipped_to_their_end() -> None:
    html = (
        "<div class='ad'><div>inner <b>bold</b></div><p>still ad</p></div><p>kept</p>"
        "<noscript>no</noscript><template><p>t</p></template><br/><p>after</p>"
    )
    assert snapshot(html, URL, [".ad"]).lines == ["kept", "after"]
    assert snapshot(html, URL, ["div"]).lines == ["kept", "after"]


def test_volatile_patterns_and_whitespace() -> None:
    html = "<p>  Visitors:   12345 \n today </p><p>Time: 09:41:07</p>"
    snap = snapshot(html, URL, [], [r"Visitors:\s*\d+", r"\d{2}:\d{2}:\d{2}"])
    assert snap.lines == ["today", "Time:"]


def test_external_domains_from_every_kind_of_link() -> None:
    html = """
    <script src="//cdn.example.net/a.js"></script><iframe src="https://frame.example.org/"></iframe>
    <a href="/local">x</a><a href="https://WWW.SCHOOL.EXAMPLE/other">same host</a>
    <link rel="stylesheet" href="http://css.example.com/s.css"><form action="https://post.example.io/">
    <a href="mailto:a@b.c">m</a><a href="javascript:void(0)">j</a><a href="#top">t</a>
    """
    assert snapshot(html, URL).domains == (
        "cdn.example.net",
        "css.example.com",
        "frame.example.org",
        "post.example.io",
    )


def test_compare_gives_reasons() -> None:
    base = snapshot(home(), URL, ["#counter", ".updated"])
    same = snapshot(home(visits=5), URL, ["#counter", ".updated"])
    verdict = compare(base.text, base.text_hash, base.title, base.domains, same, ["黑客"], 80)
    assert not verdict.tampered and not verdict.text_changed
    changed = snapshot(home().replace("运动会", "黑客大赛"), URL, ["#counter", ".updated"])
    verdict = compare(base.text, base.text_hash, base.title, base.domains, changed, ["黑客"], 80)
    assert verdict.reasons == ("defacement words: 黑客",)
    assert "+<li>" not in verdict.diff and "-运动会报名截止：周五" in verdict.diff


def test_the_diff_is_bounded() -> None:
    before = snapshot("".join(f"<p>line {n}</p>" for n in range(500)), URL)
    after = snapshot("".join(f"<p>other {n}</p>" for n in range(500)), URL)
    verdict = compare(before.text, before.text_hash, "", (), after, [], 80)
    assert verdict.tampered and verdict.similarity < 0.1
    assert len(verdict.diff) <= 4100 and len(verdict.diff.splitlines()) <= DIFF_LINES + 1


def test_broken_html_does_not_raise() -> None:
    snap = snapshot("<p>ok<div><<<>></p></notopen><script>unterminated", URL)
    assert "ok" in snap.text


@pytest.mark.parametrize("selector", ["div > p", "a[href]", "", "#", ".a.b", "x" * 101])
def test_unsupported_selectors_are_refused(selector: str) -> None:
    with pytest.raises(VolatileError):
        parse_selector(selector)


def test_volatile_limits() -> None:
    with pytest.raises(VolatileError):
        check_volatile(["p"] * 21, [])
    with pytest.raises(VolatileError):
        check_volatile([], ["[unclosed"])
    check_volatile(["div#main", "span.time", "footer"], [r"\d+"])


@pytest.mark.parametrize(
    "url",
    [
        "gopher://x/",
        "http://user@127.0.0.1/",
        "http://127.0.0.1:0/",
        "http://127.0.0.1:99999/",
        "http://[::1/",
        "https://",
        "http://a b/",
    ],
)
def test_urls_refused(url: str) -> None:
    with pytest.raises(UrlError):
        check_url(url)


def test_statuses() -> None:
    assert parse_statuses("200-299, 301") == ((200, 299), (301, 301))
    for bad in ("", "20", "299-200", "abc", "200-", "600"):
        with pytest.raises(StatusesError):
            parse_statuses(bad)


def test_flap_state_machine() -> None:
    state = Flap("up", 0, 5)
    for expected in ("pending", "pending", "down", "down"):
        state = advance(state, False, 3, 2)
        assert state.state == expected
    state = advance(state, True, 3, 2)
    assert state.state == "down" and state.successes == 1
    state = advance(state, True, 3, 2)
    assert state.state == "up"
    assert advance(Flap("pending", 2, 0), True, 3, 2).state == "up"
    assert advance(Flap("up", 0, 0), False, 1, 1).state == "down"
