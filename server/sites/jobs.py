"""The site crawler thread ``xunjian server run`` starts in every server process, and the one
function that runs a site's crawl (the thread and ``xunjian server site crawl`` share it).

Every ``TICK_SECONDS`` it claims one due site (its daily time passed, or someone asked for a
crawl now) by conditional UPDATE (server/sites/store.py ``claim_due``): of two processes, one
crawls it. One crawl at a time per process: a crawl is slow on purpose (a polite pace), and the
page monitors' probes must not wait behind it.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from server.alerts.delivery import worker_name
from server.monitors.record import DefacementWords
from server.sites import store
from server.sites.crawl import crawl
from server.sites.models import Site
from server.state import EXTENSION_KEY, ServerState
from xunjian.core.probe import AddressPolicy

logger = logging.getLogger("xunjian.server.sites")
TICK_SECONDS = 15.0


def run_crawl(
    engine: Engine,
    site_id: int,
    words: tuple[str, ...],
    addresses: AddressPolicy,
    stop: threading.Event | None = None,
    claimed_by: str | None = None,
    page_bytes: int | None = None,
) -> store.Recorded:
    """Crawl the site now and record the outcome; ``ConflictError`` if it is gone."""
    with Session(engine) as session:
        site = session.get(Site, site_id)
        if site is None:
            raise store.ConflictError(f"no site {site_id}")
        settings = store.crawl_settings(site, words, addresses, page_bytes)
    crawl_id = store.begin_crawl(engine, site_id)
    try:
        outcome = crawl(settings, stop)
        return store.record_crawl(engine, site_id, crawl_id, outcome, claimed_by=claimed_by)
    except Exception as error:
        store.fail_crawl(engine, site_id, crawl_id, f"{type(error).__name__}: {error}")
        raise


class SiteCrawler(threading.Thread):
    def __init__(self, state: ServerState, stop: threading.Event) -> None:
        super().__init__(name="xunjian-sites", daemon=True)
        self.state = state
        self.stop = stop
        self.name_ = worker_name()
        self.words = DefacementWords(state.engine)

    def run(self) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(TICK_SECONDS)

    def tick(self) -> None:
        config = self.state.config
        try:
            site_id = store.claim_due(self.state.engine, self.name_, config.daily_timezone)
        except Exception:
            logger.exception("sites: claiming a due site failed; trying again")
            return
        if site_id is None:
            return
        try:
            done = run_crawl(
                self.state.engine,
                site_id,
                self.words.get(),
                config.monitor_addresses,
                self.stop,
                claimed_by=self.name_,
            )
            logger.info(
                "sites: crawled site %s: %s broken links (%s new, %s fixed)",
                site_id,
                len(done.broken),
                len(done.new_broken),
                len(done.fixed),
            )
        except Exception:
            logger.exception("sites: crawling site %s failed", site_id)


def start_site_crawler(app: Flask, stop: threading.Event) -> SiteCrawler:
    crawler = SiteCrawler(app.extensions[EXTENSION_KEY], stop)
    crawler.start()
    return crawler
