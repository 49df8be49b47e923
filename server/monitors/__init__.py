"""Page monitors: availability and tamper detection of web pages, checked by the server or by
an enrolled agent (docs/monitors.md).

Modules: ``models``, ``store`` (monitors and their claims), ``page`` and ``judge`` (a probe and
its verdict), ``record`` and ``history``, ``agent_intake`` (outcomes agents report), ``digest``
(the daily notice), ``api``, ``views``, ``cli``, ``jobs`` (the scheduler thread ``xunjian server
run`` starts). This ``__init__`` imports nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/monitors`` (nested in the app's ``/api/v1``) and the console's Monitors
    pages."""
    from server import api
    from server.console.nav import add_nav_items
    from server.monitors import api as monitors_api
    from server.monitors import jobs, views
    from server.threads import add_thread

    api.nest(app, monitors_api.make_blueprint())
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    add_thread(app, jobs.start_monitor_scheduler)
