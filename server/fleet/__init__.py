"""The fleet: the console's pages (dashboard, hosts, a host, checks; docs/console.md), the
REST API's hosts (``/api/v1/hosts``) and ``xunjian server agent ...``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """The fleet pages (dashboard, hosts, a host, checks) and ``/api/v1/hosts``."""
    from server.api import nest
    from server.console.nav import add_nav_items
    from server.fleet import api, jobs, views
    from server.threads import add_thread

    nest(app, api.make_blueprint())  # /api/v1/hosts
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    add_thread(app, jobs.start_snapshot_worker)  # compliance counts for the dashboard
