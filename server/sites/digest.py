"""Site health's lines in the daily digest (server/monitors/digest.py, POLICY.md E7/E13): one
line per site with its last crawl's broken links, new ones and fixed ones."""

from __future__ import annotations

import datetime

from sqlalchemy import Engine

from server.config import local_time
from server.sites.store import statuses

MAX_SITES = 50


def lines(engine: Engine, now: datetime.datetime, zone: str) -> tuple[list[str], list[str]]:
    """(Chinese lines, English lines), crawl times in ``zone`` (the digest's, named);
    nothing when no site is crawled."""
    found = statuses(engine, end=now)[:MAX_SITES]
    if not found:
        return [], []
    zh, en = ["网站链接巡检："], ["Site health (broken links):"]
    for site in found:
        if site.crawled_at is None:
            zh.append(f"- {site.name} ({site.start_url})：尚未巡检")
            en.append(f"- {site.name} ({site.start_url}): not crawled yet")
            continue
        at = local_time(site.crawled_at, zone, named=True)
        zh.append(
            f"- {site.name} ({site.start_url})：{site.pages} 个页面，失效链接 {site.broken} 个"
            f"（新增 {site.new_broken}，已修复 {site.fixed}；{at}）"
        )
        en.append(
            f"- {site.name} ({site.start_url}): {site.pages} pages, {site.broken} broken links "
            f"({site.new_broken} new, {site.fixed} fixed; {at})"
        )
    return zh, en
