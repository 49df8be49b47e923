"""``xunjian server site add|list|crawl|findings``: the parser (``add_parser``) and the
commands. Exit status 0 on success, 1 with the reason otherwise. ``add`` and ``crawl`` are
recorded in the operation log like the same change made over HTTP.

``crawl`` runs the crawl in this process, now, and records it like the server's nightly one
(alerts included); ``crawl --queue`` asks the running server's crawler instead."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.commands import add_data_option, cli_actor, fail, record_cli_action, store_session
from server.config import ConfigError, load_config, local_time
from server.monitors.record import DefacementWords
from server.sites import store
from server.sites.jobs import run_crawl
from server.sites.models import FINDING_KINDS, Site
from server.store.engine import make_engine
from server.store.models import utcnow

COMMAND = "xunjian server site"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``site`` under ``xunjian server``."""
    site = subparsers.add_parser(
        "site", help="site health: whole sites crawled for broken links (E13)"
    )
    ssub = site.add_subparsers(dest="site_command", required=True, metavar="COMMAND")

    p = ssub.add_parser(
        "add",
        help="crawl a whole site every night",
        description="Adds a site (docs/sites.md): its pages on the start URL's scheme and host "
        "(and --host ones) are crawled daily at --at, every link they carry checked.",
    )
    add_data_option(p)
    p.add_argument("url", nargs="?", default=None, help="the start page (or --monitor)")
    p.add_argument("--monitor", type=int, default=None, help="start from this page monitor's URL")
    p.add_argument("--name", default=None, help="a name for lists (default: the URL)")
    p.add_argument(
        "--host", action="append", default=[], help="another host of the site; may be repeated"
    )
    p.add_argument("--at", default=None, help="daily crawl time HH:MM (default 02:30)")
    p.add_argument("--max-pages", type=int, default=None, help="page limit (default 2000)")
    p.add_argument("--max-depth", type=int, default=None, help="link depth limit (default 10)")
    p.add_argument("--rate", type=float, default=None, help="requests a second (default 2)")
    p.add_argument("--concurrency", type=int, default=None, help="requests at once (default 2)")
    p.add_argument("--timeout", type=int, default=None, help="seconds per request (default 10)")
    p.add_argument("--ca-file", default=None, help="PEM CA file for an internal site")
    p.add_argument(
        "--ignore-robots", action="store_true", help="do not honour robots.txt (your own site)"
    )
    p.set_defaults(handler=add_command)

    p = ssub.add_parser("list", help="sites with their last crawl")
    add_data_option(p)
    p.set_defaults(handler=list_command)

    p = ssub.add_parser("crawl", help="crawl a site now")
    add_data_option(p)
    p.add_argument("site_id", type=int)
    p.add_argument(
        "--queue", action="store_true", help="ask the running server to crawl it instead"
    )
    p.set_defaults(handler=crawl_command)

    p = ssub.add_parser("findings", help="the last crawl's findings")
    add_data_option(p)
    p.add_argument("site_id", type=int)
    p.add_argument("--kind", choices=FINDING_KINDS, default=None)
    p.set_defaults(handler=findings_command)


def _config(args: argparse.Namespace) -> Any:
    try:
        return load_config(args.data)
    except ConfigError as exc:
        raise SystemExit(fail(str(exc), COMMAND)) from None


def add_command(args: argparse.Namespace) -> int:
    config = _config(args)
    given = {
        "start_url": args.url,
        "monitor_id": args.monitor,
        "name": args.name,
        "extra_hosts": args.host or None,
        "crawl_at": args.at,
        "max_pages": args.max_pages,
        "max_depth": args.max_depth,
        "rate": args.rate,
        "concurrency": args.concurrency,
        "timeout_seconds": args.timeout,
        "ca_file": args.ca_file,
        "robots": False if args.ignore_robots else None,
    }
    payload = {name: value for name, value in given.items() if value is not None}
    try:
        values = store.validate(payload, creating=True)
    except store.FieldError as exc:
        return fail(str(exc), COMMAND)
    with store_session(config) as session:
        try:
            site = store.create_site(session, values, cli_actor(), config.daily_timezone, utcnow())
        except (store.FieldError, store.ConflictError) as exc:
            return fail(str(exc), COMMAND)
        session.commit()
        site_id, url, due = site.id, site.start_url, site.next_due_at
    problem = record_cli_action(
        config, args.data, "site.create", target=f"site:{site_id}", details={"url": url}
    )
    # In the one zone of the product, named (issue 13 item 6); the crawl's HH:MM is in it too.
    first = local_time(due, config.console_timezone, named=True)
    print(f"site {site_id} added for {url}; first crawl at {first}")
    return 0 if problem is None else fail(f"done, but {problem}", COMMAND)


def list_command(args: argparse.Namespace) -> int:
    config = _config(args)
    with store_session(config) as session:
        sites = list(session.scalars(select(Site).order_by(Site.id)))
        print(f"times in {config.console_timezone}")
        print(f"{'id':>4}  {'last crawl':16}  {'pages':>6}  {'broken':>6}  {'new':>4}  url")
        for site in sites:
            crawl = store.last_crawl(session, site.id)
            when = (
                local_time(crawl.finished_at, config.console_timezone)
                if crawl and crawl.finished_at
                else "never"
            )
            pages = crawl.pages if crawl else "-"
            broken = crawl.broken if crawl else "-"
            new = crawl.new_broken if crawl else "-"
            print(f"{site.id:>4}  {when:16}  {pages:>6}  {broken:>6}  {new:>4}  {site.start_url}")
    return 0


def crawl_command(args: argparse.Namespace) -> int:
    config = _config(args)
    if args.queue:
        with store_session(config) as session:
            site = session.get(Site, args.site_id)
            if site is None:
                return fail(f"no site {args.site_id}", COMMAND)
            store.request_crawl(session, site)
            session.commit()
        record_cli_action(config, args.data, "site.crawl", target=f"site:{args.site_id}")
        print(f"site {args.site_id}: the server's crawler takes it within a minute")
        return 0
    engine = make_engine(config.database_url)
    try:
        try:
            done = run_crawl(
                engine,
                args.site_id,
                DefacementWords(engine).get(),
                config.monitor_addresses,
            )
        except store.ConflictError as exc:
            return fail(str(exc), COMMAND)
        with Session(engine) as session:
            crawl = store.last_crawl(session, args.site_id)
            counts = store.kind_counts(session, done.crawl_id)
            pages = crawl.pages if crawl else 0
    finally:
        engine.dispose()
    record_cli_action(
        config,
        args.data,
        "site.crawl",
        target=f"site:{args.site_id}",
        details={"crawl_id": done.crawl_id, "broken": len(done.broken)},
    )
    summary = ", ".join(f"{kind} {number}" for kind, number in sorted(counts.items())) or "nothing"
    print(
        f"site {args.site_id}: crawl {done.crawl_id}: {pages} pages; found {summary} "
        f"({len(done.new_broken)} new broken, {len(done.fixed)} fixed)"
    )
    return 0


def findings_command(args: argparse.Namespace) -> int:
    config = _config(args)
    with store_session(config) as session:
        if session.get(Site, args.site_id) is None:
            return fail(f"no site {args.site_id}", COMMAND)
        crawl = store.last_crawl(session, args.site_id)
        if crawl is None:
            print(f"site {args.site_id}: not crawled yet")
            return 0
        rows, total = store.findings_of(session, crawl.id, args.kind, limit=store.MAX_FINDINGS)
        finished = local_time(crawl.finished_at, config.console_timezone, named=True)
        print(f"crawl {crawl.id} ({finished}): {total} findings")
        for row in rows:
            where = f"  on {row.page_url}" if row.page_url and row.page_url != row.url else ""
            text = f"  “{row.text}”" if row.text else ""
            print(f"{row.kind:14} {row.detail[:40]:12} {row.url}{where}{text}")
    return 0
