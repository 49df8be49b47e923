"""The probe against a real loopback server: redirects followed or not and capped, the body
cap, and a failure of any kind being a result, never an exception."""

from __future__ import annotations

from typing import Any

from tests.harness import free_port
from tests.monitors.helpers import LOOPBACK
from tests.monitors.site import Site, home
from xunjian.core.probe import Fetch, fetch


def fetch_here(url: str, **options: Any) -> Fetch:
    """``fetch`` with the test sites' loopback allowed, as an admin allows a network."""
    return fetch(url, addresses=LOOPBACK, **options)


def test_redirects_followed_up_to_the_cap(site: Site) -> None:
    site.serve("/old", "", status=301, location="/new")
    site.serve("/new", "", status=302, location=site.url("/"))
    followed = fetch_here(site.url("/old"))
    assert followed.status == 200 and followed.url == site.url("/")
    assert followed.redirects == [site.url("/new"), site.url("/")]
    assert fetch_here(site.url("/old"), follow_redirects=False).status == 301
    capped = fetch_here(site.url("/old"), max_redirects=1)
    assert capped.status is None and capped.error == "more than 1 redirects"


def test_a_redirect_loop_ends(site: Site) -> None:
    site.serve("/a", "", status=302, location="/b")
    site.serve("/b", "", status=302, location="/a")
    result = fetch_here(site.url("/a"))
    assert result.status is None and "redirects" in result.error


def test_a_redirect_elsewhere_than_http_is_refused(site: Site) -> None:
    site.serve("/f", "", status=302, location="file:///etc/passwd")
    result = fetch_here(site.url("/f"))
    assert result.status is None and "non-HTTP" in result.error


def test_the_body_is_capped(site: Site) -> None:
    site.serve("/big", "x" * 3_000_000, content_type="text/plain")
    result = fetch_here(site.url("/big"), max_body=100_000)
    assert result.status == 200 and result.truncated and len(result.body) == 100_000


def test_nothing_listening_is_a_result() -> None:
    result = fetch_here(f"http://127.0.0.1:{free_port()}/")
    assert result.status is None and "Connection refused" in result.error


def test_gbk_pages_are_decoded(site: Site) -> None:
    site.serve("/gbk", home().replace("©", "").encode("gbk"), content_type="text/html; charset=gbk")
    assert "欢迎访问" in fetch_here(site.url("/gbk")).text()
