"""Alerts: rows born from state changes, deduplicated by subject (docs/alerts.md).

* ``models``   the ``alerts`` and ``alert_comments`` tables
* ``detect``   detection inside the report's ingest transaction (server/store/ingest.py)
* ``silent``   the periodic sweep for agents that stopped talking
* ``api``      ``/api/v1/alerts`` for people with API tokens
* ``channels`` notification channels from config.json, validated at load
* ``delivery`` queueing notifications and sending them under a claim
* ``views``    the console's Alerts pages
* ``jobs``     the background thread ``xunjian server run`` starts in each process

``install(app)`` plugs the API and the pages into the app (server/app.py); the thread is
started by ``xunjian server run`` (server/serve.py). This ``__init__`` imports nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/alerts`` (nested in the app's ``/api/v1``) and the console's Alerts pages."""
    from server import api
    from server.alerts import api as alerts_api
    from server.alerts import jobs, views
    from server.console.nav import add_nav_items
    from server.threads import add_thread

    api.nest(app, alerts_api.make_blueprint())
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    add_thread(app, jobs.start_alert_worker)
