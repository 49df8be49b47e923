"""The console's fleet pages: dashboard, hosts, a host, checks (docs/console.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """The fleet pages: dashboard, hosts, a host, checks."""
    from server.console.nav import add_nav_items
    from server.fleet import jobs, views
    from server.threads import add_thread

    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    add_thread(app, jobs.start_snapshot_worker)  # compliance counts for the dashboard
