"""Site health (POLICY.md E13): whole web sites crawled every night for broken links, mixed
content, defacement words and pages new or gone; docs/sites.md.

Modules: ``links`` (a page's links, by ``html.parser``), ``crawl`` (one crawl, through the page
monitors' guarded fetch), ``models``, ``schemas``, ``store`` (sites, the schedule's claim, a
crawl's outcome with its issues and alert), ``digest`` (the daily digest's lines), ``api``,
``views``, ``cli``, ``jobs`` (the crawler thread ``xunjian server run`` starts). This
``__init__`` imports nothing until ``install`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/sites`` (nested in the app's ``/api/v1``), the console's Site health pages,
    the crawler thread, and the sites' lines in the monitors' daily digest."""
    from server import api
    from server.console.nav import add_nav_items
    from server.monitors.digest import add_section
    from server.sites import api as sites_api
    from server.sites import digest, jobs, views
    from server.threads import add_thread

    api.nest(app, sites_api.make_blueprint())
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    add_thread(app, jobs.start_site_crawler, join_seconds=30)
    add_section("sites", digest.lines)
