"""The whole-site crawl end to end (issue 18's proof): a generated school site of 500 pages on
loopback HTTPS (the test's own CA) with 20 broken links, a redirect loop, a 30 MB page, a
defaced page and an http:// image; the site added through the real API, crawled by the
crawler thread's own function, read back through the API, the console and the CLI; the
crawl twice the same; after fixing five, fifteen, and the five resolved; after fixing all,
none and the alert resolved. The only thing not real here is the clock of the schedule (a
crawl is run now rather than at 02:30)."""

from __future__ import annotations

import csv
import datetime
import io
import json
import threading
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from server.monitors import digest
from server.monitors.record import DefacementWords
from server.reports.collect import open_spool_dir
from server.reports.generate import build_files
from server.reports.verify import verify_file
from server.reports.week import IsoWeek
from server.sites import store
from server.sites.crawl import CrawlSettings, crawl
from server.sites.jobs import SiteCrawler, run_crawl
from server.sites.models import Site, SiteIssue
from server.store.models import utcnow
from tests.data_folder import run_xunjian
from tests.monitors.test_console import page, person
from tests.report_files import csv_tables
from tests.server.conftest import Server
from tests.server.test_api import api_token, bearer
from tests.server.test_console import csrf_from
from tests.sites.conftest import LOOPBACK_ALLOWED
from tests.sites.school import BIG_BYTES, SchoolSite
from xunjian.core.probe import AddressPolicy


def _add_site(server: Server, token: str, school: SchoolSite) -> int:
    answer = server.client().post(
        "/api/v1/sites",
        json={
            "start_url": school.url("/"),
            "name": "示范学校",
            "ca_file": str(school.ca),
            "timeout_seconds": 2,
            "concurrency": 4,
        },
        headers=bearer(token),
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    site_id = int(answer.get_json()["id"])
    # Polite by default (2 requests a second, which the API caps at 50): this test's own
    # loopback site is crawled fast, set in the store as an admin's direct change would.
    with server.state.sessions() as session:
        session.execute(update(Site).where(Site.id == site_id).values(rate=2000.0))
        session.commit()
    return site_id


def _crawl(server: Server, site_id: int) -> store.Recorded:
    engine = server.state.engine
    return run_crawl(
        engine, site_id, DefacementWords(engine).get(), server.state.config.monitor_addresses
    )


def _findings(server: Server, token: str, site_id: int) -> dict[str, Any]:
    answer = server.client().get(
        f"/api/v1/sites/{site_id}/findings?limit=500", headers=bearer(token)
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def _by_kind(found: dict[str, Any]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for row in found["findings"]:
        kinds.setdefault(row["kind"], set()).add(row["url"])
    return kinds


def _alerts(server: Server, token: str) -> list[dict[str, Any]]:
    answer = server.client().get("/api/v1/alerts?limit=500", headers=bearer(token))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return [alert for alert in answer.get_json()["alerts"] if alert["kind"] == "broken_links"]


def test_whole_site_crawl_finds_the_planted_faults_and_follows_their_repair(
    server: Server, school: SchoolSite
) -> None:
    token = api_token(server)
    site_id = _add_site(server, token, school)
    planted = school.planted
    broken = {school.url(path) for path in planted.broken}
    assert len(broken) == 20
    expected_others = {
        "redirect_loop": {school.url(planted.redirect_loop)},
        "too_large": {school.url(planted.too_large)},
        "defacement": {school.url(planted.defaced)},
        "mixed_content": {school.plain_url(planted.mixed_image)},
    }

    first = _crawl(server, site_id)
    assert first.broken == broken
    assert first.new_broken == broken and first.fixed == set()
    found = _findings(server, token, site_id)
    kinds = _by_kind(found)
    assert kinds.pop("broken") == broken
    assert kinds == expected_others  # nothing else: no refusals, no new or gone pages yet
    assert found["crawl"]["pages"] >= 500
    assert found["counts"]["broken"] == 20
    # Each broken link with the pages it is on and its text there; one on two pages.
    places = {(r["url"], r["page_url"]) for r in found["findings"] if r["kind"] == "broken"}
    assert len(places) > 20
    reasons = {r["url"]: r["detail"] for r in found["findings"] if r["kind"] == "broken"}
    assert reasons == {school.url(p): why for p, why in planted.broken_reasons.items()}
    texts = {r["text"] for r in found["findings"] if r["kind"] == "broken"}
    assert "旧闻 0" in texts and "附件下载 3" in texts
    mixed = [r for r in found["findings"] if r["kind"] == "mixed_content"]
    assert [r["page_url"] for r in mixed] == [school.url(planted.mixed_page)]
    # robots.txt forbids /private/: never fetched, so never reported.
    assert not any("/private/" in r["url"] for r in found["findings"])
    # The 30 MB page was read no further than the page limit (the server's socket buffers
    # hold a few MB more than the crawler read).
    assert school.big_bytes_sent < BIG_BYTES // 2
    listed = (
        server.client()
        .get(f"/api/v1/sites/{site_id}/pages?limit=500", headers=bearer(token))
        .get_json()
    )
    assert listed["total"] == found["crawl"]["pages"] > 500  # paged
    rest = server.client().get(
        f"/api/v1/sites/{site_id}/pages?limit=500&offset=500", headers=bearer(token)
    )
    listed["pages"] += rest.get_json()["pages"]
    assert len(listed["pages"]) == listed["total"]
    home = next(p for p in listed["pages"] if p["url"] == school.url("/"))
    assert (home["status"], home["depth"], home["title"], home["html"]) == (
        200,
        0,
        "示范学校 Example School",
        True,
    )
    assert home["size"] > 0 and home["ms"] >= 0
    missing = school.url("/news/2019/old-0.html")
    assert [p["status"] for p in listed["pages"] if p["url"] == missing] == [404]
    other = server.client().get(
        f"/api/v1/sites/{site_id}/pages?crawl_id=99999", headers=bearer(token)
    )
    assert other.status_code == 404
    opened = _alerts(server, token)
    assert len(opened) == 1 and opened[0]["status"] == "open"
    assert "20 new broken links" in opened[0]["message"]

    second = _crawl(server, site_id)
    assert second.broken == broken
    assert second.new_broken == set() and second.fixed == set()
    again = _findings(server, token, site_id)
    assert _by_kind(again) == {"broken": broken, **expected_others}
    assert sorted(map(str, again["findings"])) == sorted(map(str, found["findings"]))
    assert len(_alerts(server, token)) == 1  # one alert per site, not one per crawl

    fixed = {school.url(path) for path in school.fix(5)}
    third = _crawl(server, site_id)
    assert third.broken == broken - fixed and len(third.broken) == 15
    assert third.fixed == fixed and third.new_broken == set()
    kinds = _by_kind(_findings(server, token, site_id))
    assert kinds.pop("broken") == broken - fixed
    # The restored news pages are pages the site did not have at the crawl before.
    assert kinds.pop("new_page") == {url for url in fixed if url.endswith(".html")}
    assert kinds == expected_others
    with server.state.sessions() as session:
        issues = {i.url: i for i in session.scalars(select(SiteIssue))}
    assert {url for url, i in issues.items() if i.resolved_at is not None} == fixed
    assert {url for url, i in issues.items() if i.resolved_at is None} == broken - fixed
    assert [a["status"] for a in _alerts(server, token)] == ["open"]  # fifteen remain

    restored = {school.url(path) for path in school.fix(20) if path.endswith(".html")}
    gone = school.url(school.unpublish())
    fourth = _crawl(server, site_id)
    assert fourth.broken == set() and fourth.fixed == broken - fixed
    kinds = _by_kind(_findings(server, token, site_id))
    assert kinds.pop("new_page") == restored - fixed
    assert kinds.pop("gone_page") == {gone}
    assert kinds == expected_others
    assert [a["status"] for a in _alerts(server, token)] == ["resolved"]

    trend = server.client().get(f"/api/v1/sites/{site_id}/trend", headers=bearer(token))
    assert [c["broken"] for c in trend.get_json()["crawls"]] == [20, 20, 15, 0]

    # The daily digest's line and the weekly report's E13 status.
    now = utcnow()
    message = digest.compose(server.state.engine, now, now.date())
    assert "示范学校" in message.body.zh and "0 broken links (0 new, 15 fixed" in message.body.en
    # The crawl's time in the digest's zone, named (issue 13 item 6).
    tokyo = digest.compose(server.state.engine, now, now.date(), "Asia/Tokyo")
    assert " Asia/Tokyo)" in tokyo.body.en and " Asia/Tokyo）" in tokyo.body.zh
    zone = ZoneInfo(server.state.config.console_timezone)  # the week the server reports
    week = IsoWeek.containing(now.replace(tzinfo=datetime.UTC).astimezone(zone).date())
    with open_spool_dir() as folder:
        built = build_files(
            server.state.engine, server.data, week, zone, ("json", "csv"), Path(folder), "t"
        )
        document = json.loads(built.files["json"].read_bytes())
        verdict = verify_file(built.files["json"], server.data / "report-signing.pub")
        # The readable CSV: a zip with one table per file, the sites' own among them.
        tables = csv_tables(built.files["csv-en"].read_bytes())
        [sheet] = [text for name, text in tables.items() if name.endswith("-sites.csv")]
    assert verdict.week == str(week)  # the signed layout holds with the sites in it
    (status,) = document["report"]["e13_sites"]
    assert status["status"] == "pass" and status["start_url"] == school.url("/")
    assert status["pages"] >= 500 and status["broken_links"] == 0
    header, *rows = list(csv.reader(io.StringIO(sheet)))
    assert len(rows) == 1, rows
    row = dict(zip(header, rows[0], strict=True))
    assert row["Start address"] == school.url("/") and row["State"] == "pass", row
    assert row["Broken links"] == "0", row


def test_console_page_groups_broken_links_by_page_and_exports_csv(
    server: Server, school: SchoolSite
) -> None:
    token = api_token(server)
    site_id = _add_site(server, token, school)
    _crawl(server, site_id)
    olga = person(server, "olga", "operator")
    shown = page(olga, f"/sites/{site_id}")
    assert shown.count('class="site-page"') == len(
        {
            r["page_url"]
            for r in _findings(server, token, site_id)["findings"]
            if r["kind"] == "broken"
        }
    )
    assert "Broken links by page" in shown and "Mixed content" in shown
    assert f"/sites/{site_id}" in page(olga, "/sites")
    exported = olga.get(f"/sites/{site_id}/findings.csv")
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["url"] for row in rows if row["kind"] == "broken"} == {
        school.url(path) for path in school.planted.broken
    }
    # The console's form validates through the same model.
    refused = olga.post(
        "/sites", data={"start_url": "file:///etc/passwd", "csrf_token": csrf_from(olga, "/sites")}
    )
    assert refused.status_code == 400
    added = olga.post(
        "/sites",
        data={
            "start_url": school.url("/s1/"),
            "crawl_at": "01:00",
            "max_pages": "300",
            "csrf_token": csrf_from(olga, "/sites"),
        },
    )
    assert added.status_code == 303
    # A site may start from a page monitor's URL.
    watched = server.client().post(
        "/api/v1/monitors",
        json={"url": school.url("/about.html"), "ca_file": str(school.ca)},
        headers=bearer(token),
    )
    assert watched.status_code == 201, watched.get_data(as_text=True)
    from_monitor = server.client().post(
        "/api/v1/sites", json={"monitor_id": watched.get_json()["id"]}, headers=bearer(token)
    )
    assert from_monitor.status_code == 201, from_monitor.get_data(as_text=True)
    assert from_monitor.get_json()["start_url"] == school.url("/about.html")
    again = server.client().post(
        "/api/v1/sites", json={"start_url": school.url("/")}, headers=bearer(token)
    )
    assert again.status_code == 409
    # "Crawl now" asks the crawler thread: the site is due at once.
    answer = olga.post(f"/sites/{site_id}/crawl", data={"csrf_token": _csrf(olga, site_id)})
    assert answer.status_code == 303
    # The thread's own tick claims it and crawls it; then nothing is due until tomorrow.
    SiteCrawler(server.state, threading.Event()).tick()
    crawls = server.client().get(f"/api/v1/sites/{site_id}/trend", headers=bearer(token))
    assert [c["broken"] for c in crawls.get_json()["crawls"]] == [20, 20]
    shown = server.client().get(f"/api/v1/sites/{site_id}", headers=bearer(token)).get_json()
    assert not shown["crawl_requested"] and not shown["crawling"]
    assert store.claim_due(server.state.engine, "test", "Asia/Shanghai") is None
    # Of two processes that see it due, one claims it.
    olga.post(f"/sites/{site_id}/crawl", data={"csrf_token": _csrf(olga, site_id)})
    assert store.claim_due(server.state.engine, "test", "Asia/Shanghai") == site_id
    assert store.claim_due(server.state.engine, "other", "Asia/Shanghai") is None


def _csrf(client: Any, site_id: int) -> str:
    return csrf_from(client, f"/sites/{site_id}")


def test_crawl_goes_through_the_monitors_address_guard(server: Server, school: SchoolSite) -> None:
    """Without loopback in monitor_allowed_networks nothing of the site is fetched."""
    token = api_token(server)
    site_id = _add_site(server, token, school)
    engine = server.state.engine
    done = run_crawl(engine, site_id, (), AddressPolicy())  # global addresses only
    assert done.broken == set()
    kinds = _by_kind(_findings(server, token, site_id))
    assert kinds == {"refused": {school.url("/")}}
    assert school.requests == 0


def test_api_refuses_bad_settings_and_readers_cannot_write(server: Server) -> None:
    admin = api_token(server)
    auditor = api_token(server, "audrey", "auditor")
    client = server.client()
    for body, place in (
        ({"start_url": "ftp://example.org/"}, "start_url"),
        ({"start_url": "https://example.org/", "rate": 0}, "rate"),
        ({"start_url": "https://example.org/", "max_pages": 10**9}, "max_pages"),
        ({"start_url": "https://example.org/", "crawl_at": "25:00"}, "crawl_at"),
        ({"start_url": "https://example.org/", "extra_hosts": ["a b"]}, "extra_hosts"),
        ({"start_url": "https://example.org/", "what": 1}, "what"),
    ):
        answer = client.post("/api/v1/sites", json=body, headers=bearer(admin))
        assert answer.status_code == 400, body
        assert place in answer.get_json()["error"]
    answer = client.post(
        "/api/v1/sites", json={"start_url": "https://example.org/"}, headers=bearer(auditor)
    )
    assert answer.status_code == 403
    answer = client.post(
        "/api/v1/sites", json={"start_url": "https://example.org/"}, headers=bearer(admin)
    )
    assert answer.status_code == 201
    site_id = answer.get_json()["id"]
    assert client.post(f"/api/v1/sites/{site_id}/crawl", headers=bearer(auditor)).status_code == 403
    assert client.post(f"/api/v1/sites/{site_id}/crawl", headers=bearer(admin)).status_code == 202
    assert client.post("/api/v1/sites/999/crawl", headers=bearer(admin)).status_code == 404
    before = client.get(f"/api/v1/sites/{site_id}", headers=bearer(admin)).get_json()
    changed = client.patch(
        f"/api/v1/sites/{site_id}",
        json={"crawl_at": "23:15", "extra_hosts": ["News.Example.org"], "robots": False},
        headers=bearer(admin),
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    after = changed.get_json()
    assert (after["crawl_at"], after["extra_hosts"], after["robots"]) == (
        "23:15",
        ["news.example.org"],
        False,
    )
    assert after["next_due_at"] != before["next_due_at"]
    assert after["max_pages"] == 2000 and after["rate"] == 2.0  # the polite defaults kept
    refused = client.patch(
        f"/api/v1/sites/{site_id}", json={"ca_file": "/etc/passwd"}, headers=bearer(auditor)
    )
    assert refused.status_code == 403
    # An operator may change sites but not name a file on the server (it could probe for files).
    operator = api_token(server, "olga", "operator")
    by_operator = client.patch(
        f"/api/v1/sites/{site_id}", json={"ca_file": "/etc/passwd"}, headers=bearer(operator)
    )
    assert by_operator.status_code == 403
    assert "only admins set ca_file" in by_operator.get_json()["error"]
    assert client.get(f"/api/v1/sites/{site_id}", headers=bearer(admin)).get_json()["ca_file"] in (
        None,
        "",
    )
    bad = client.get(f"/api/v1/sites/{site_id}/findings?kind=nonsense", headers=bearer(admin))
    assert bad.status_code == 400
    listed = client.get("/api/v1/sites", headers=bearer(auditor)).get_json()["sites"]
    assert [s["crawl_requested"] for s in listed] == [True]
    document = client.get("/api/v1/openapi.json", headers=bearer(admin)).get_json()
    assert "/api/v1/sites/{site_id}/findings" in document["paths"]


# A zone that is nobody's default, so a time shown in UTC or the machine's zone fails.
@pytest.mark.parametrize(
    "server_settings", [{**LOOPBACK_ALLOWED, "console_timezone": "Asia/Tokyo"}]
)
def test_command_line_adds_crawls_and_lists_findings(server: Server, school: SchoolSite) -> None:
    data = str(server.data)
    status, out, err = run_xunjian(
        "server", "site", "add", school.url("/"), "--data", data, "--ca-file", str(school.ca),
        "--timeout", "2", "--concurrency", "4", "--rate", "50", "--ignore-robots",
    )  # fmt: skip
    assert status == 0, err
    # The first crawl's time in the console's zone, named (issue 13 item 6).
    assert out.rstrip().endswith(" Asia/Tokyo"), out
    site_id = int(out.split()[1])
    with server.state.sessions() as session:  # the loopback site crawled fast, as above
        session.execute(update(Site).where(Site.id == site_id).values(rate=2000.0))
        session.commit()
    status, out, err = run_xunjian("server", "site", "crawl", str(site_id), "--data", data)
    assert status == 0, err
    # robots.txt turned off (an admin's own site): the link into /private/ is checked too.
    assert "broken 21" in out and "mixed_content 1" in out
    status, out, err = run_xunjian(
        "server", "site", "findings", str(site_id), "--kind", "broken", "--data", data
    )
    assert status == 0, err
    assert {line.split()[2] for line in out.splitlines()[1:]} == {
        school.url(path) for path in [*school.planted.broken, "/private/secret.html"]
    }
    status, out, err = run_xunjian("server", "site", "list", "--data", data)
    assert status == 0 and school.url("/") in out
    assert out.splitlines()[0] == "times in Asia/Tokyo"
    status, _out, err = run_xunjian("server", "site", "crawl", "999", "--data", data)
    assert status == 1 and "no site 999" in err
    status, _out, err = run_xunjian("server", "site", "add", "--data", data)
    assert status == 1 and "start_url" in err


def test_daily_schedule_is_in_the_digest_zone() -> None:
    now = datetime.datetime(2026, 12, 7, 10, 0)  # 18:00 in Shanghai
    assert store.first_due("02:30", "Asia/Shanghai", now) == datetime.datetime(2026, 12, 7, 18, 30)
    early = datetime.datetime(2026, 12, 7, 17, 0)  # 01:00 on the 8th in Shanghai
    assert store.first_due("02:30", "Asia/Shanghai", early) == datetime.datetime(
        2026, 12, 7, 18, 30
    )


def test_a_stopping_crawl_sends_no_burst_of_requests(school: SchoolSite) -> None:
    """When the server stops, what the crawl's pool still holds is not fetched: a stopping
    server never fetches the rest of a level at once, past the polite pace."""
    stop = threading.Event()

    def progress(pages: int) -> None:
        if pages >= 15:
            stop.set()

    settings = CrawlSettings(
        school.url("/"),
        rate=2000,
        concurrency=4,
        timeout=2,
        ca_file=str(school.ca),
        addresses=AddressPolicy.allowing(["127.0.0.0/8"]),
    )
    outcome = crawl(settings, stop, progress)
    assert outcome.stopped
    assert 15 <= len(outcome.pages) < 25
    # robots.txt, the pages seen, and at most the pool's four requests in flight.
    assert school.requests <= len(outcome.pages) + 1 + 4
    assert outcome.links == {p.url: outcome.links[p.url] for p in outcome.pages}
