"""Site health: one whole site crawled by xunjian and by LinkChecker, side by side.

    .venv/bin/python -m bench.site_crawl                    # 50 requests/s, 4 at once
    .venv/bin/python -m bench.site_crawl --rate 10 --concurrency 2

The site is the tests' generated school site (tests/sites/school.py): 500 pages in four levels
on loopback HTTPS with its own CA, 20 broken links, a redirect loop, a 30 MB page, a defaced
page, an http:// image on an https:// page, and a robots.txt forbidding /private/.

xunjian: a data folder made by ``xunjian server init`` (SQLite), the site added with
``xunjian server site add``, then ``xunjian server site crawl`` timed as a process of its own:
interpreter start, the crawl and its record in the database (pages, findings, issues, the
alert). LinkChecker (Debian ``linkchecker``): ``linkchecker --check-extern -o csv`` with the
same threads, pace, timeout and CA. Each one's peak resident memory is its own process's
(``os.wait4``'s rusage). Both must find the same broken links; the difference, if any, is
printed with the reason.

Needs: ``apt-get install linkchecker``. Run as root, LinkChecker drops to ``nobody``: the CA
and its configuration are written where ``nobody`` can read them.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from tests.harness import XUNJIAN, ServerUnderTest, run_cli
from tests.sites.school import SchoolSite


def run_timed(command: list[str]) -> tuple[float, int, str, str]:
    """(wall seconds, peak resident KiB, stdout, stderr) of one process: ``os.wait4`` reaps
    it, so the memory figure is that process's own, not the largest of every child so far."""
    started = time.monotonic()
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True)
        assert process.stdout is not None
        out = process.stdout.read()  # until the process closes it
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        err = errors.read()
    seconds = time.monotonic() - started
    if process.returncode not in (0, 1):  # LinkChecker exits 1 when it found broken links
        raise RuntimeError(f"{command[0]} exited {process.returncode}: {err[-2000:]}")
    return seconds, usage.ru_maxrss, out, err


def bench_xunjian(
    work: Path, school: SchoolSite, rate: float, concurrency: int, timeout: int
) -> dict[str, object]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from server.config import load_config
    from server.sites.models import SiteCrawl, SiteFinding
    from server.store.engine import make_engine

    server = ServerUnderTest(work / "server")
    server.init()
    server.set_config(monitor_allowed_networks=["127.0.0.0/8"])
    data = str(server.data)
    added = run_cli(
        "server", "site", "add", school.url("/"), "--data", data, "--ca-file", str(school.ca),
        "--rate", str(rate), "--concurrency", str(concurrency), "--timeout", str(timeout),
    ).stdout  # fmt: skip
    site_id = added.split()[1]
    seconds, peak_kib, out, _err = run_timed(
        [*XUNJIAN, "server", "site", "crawl", site_id, "--data", data]
    )
    engine = make_engine(load_config(server.data).database_url)
    with Session(engine) as session:
        crawl = session.scalars(select(SiteCrawl).order_by(SiteCrawl.id.desc())).first()
        assert crawl is not None
        rows = session.execute(
            select(SiteFinding.kind, SiteFinding.url).where(SiteFinding.crawl_id == crawl.id)
        ).all()
        pages, requests = crawl.pages, crawl.requests
    engine.dispose()
    return {
        "seconds": seconds,
        "peak_mib": peak_kib / 1024,
        "pages": pages,
        "requests": requests,
        "broken": {url for kind, url in rows if kind in ("broken", "redirect_loop")},
        "other": sorted({f"{kind}" for kind, _url in rows if kind not in ("broken",)}),
        "summary": out.strip(),
    }


def bench_linkchecker(
    work: Path, school: SchoolSite, rate: float, concurrency: int, timeout: int
) -> dict[str, object]:
    binary = shutil.which("linkchecker")
    if binary is None:
        raise SystemExit("LinkChecker is not installed: apt-get install linkchecker")
    shared = Path(tempfile.mkdtemp(prefix="xunjian-bench-lc-"))
    shared.chmod(0o755)  # LinkChecker, run as root, reads these as nobody
    ca = shared / "ca.pem"
    ca.write_bytes(school.ca.read_bytes())
    config = shared / "linkcheckerrc"
    config.write_text(
        "[checking]\n"
        f"threads={concurrency}\ntimeout={timeout}\nmaxrequestspersecond={rate:g}\n"
        f"sslverify={ca}\n"
    )
    for path in (ca, config):
        path.chmod(0o644)
    seconds, peak_kib, out, _err = run_timed(
        [binary, "-f", str(config), "--no-status", "--check-extern", "-o", "csv", school.url("/")]
    )
    shutil.rmtree(shared, ignore_errors=True)
    lines = [line for line in out.splitlines(keepends=True) if not line.startswith("#")]
    rows = list(csv.DictReader(io.StringIO("".join(lines)), delimiter=";"))
    return {
        "seconds": seconds,
        "peak_mib": peak_kib / 1024,
        "broken": {row["url"] for row in rows if row.get("valid") == "False"},
        "warnings": len([row for row in rows if row.get("warningstring")]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50, help="requests a second, both tools")
    parser.add_argument("--concurrency", type=int, default=4, help="requests at once, both")
    parser.add_argument("--timeout", type=int, default=2, help="seconds per request, both")
    parser.add_argument(
        "--linkchecker-rate",
        type=float,
        default=None,
        help="LinkChecker's maxrequestspersecond (default: --rate; its documentation says it "
        "averages about a third of it)",
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xunjian-bench-") as scratch:
        work = Path(scratch)
        school = SchoolSite(work / "school-ca")
        try:
            ours = bench_xunjian(work, school, options.rate, options.concurrency, options.timeout)
            requests_ours = school.requests
            theirs = bench_linkchecker(
                work,
                school,
                options.linkchecker_rate or options.rate,
                options.concurrency,
                options.timeout,
            )
            requests_theirs = school.requests - requests_ours
        finally:
            school.close()
    planted = {school.url(path) for path in school.planted.broken}
    planted.add(school.url(school.planted.redirect_loop))
    ours_broken = ours.pop("broken")
    theirs_broken = theirs.pop("broken")
    assert isinstance(ours_broken, set) and isinstance(theirs_broken, set)
    report = {
        "site": "tests/sites/school.py: 500 pages, 20 broken links + a redirect loop",
        "pace": f"{options.rate:g} requests/s (LinkChecker's setting "
        f"{options.linkchecker_rate or options.rate:g}), {options.concurrency} at once, "
        f"{options.timeout} s timeout",
        "xunjian": {**ours, "requests_served": requests_ours,
                    "found_planted": len(ours_broken & planted),
                    "extra": sorted(ours_broken - planted)},
        "linkchecker": {**theirs, "requests_served": requests_theirs,
                        "found_planted": len(theirs_broken & planted),
                        "extra": sorted(theirs_broken - planted)},
        "same_broken_links": ours_broken == theirs_broken,
        # LinkChecker checks a link robots.txt forbids (it only does not recurse into it);
        # xunjian never requests such a URL.
        "same_besides_robots": ours_broken
        == {url for url in theirs_broken if "/private/" not in url},
        "only_linkchecker": sorted(theirs_broken - ours_broken),
        "only_xunjian": sorted(ours_broken - theirs_broken),
    }  # fmt: skip
    print(json.dumps(report, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
