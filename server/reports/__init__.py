"""The weekly scan report (POLICY.md A4): every host, every check, its result and evidence for one
ISO week, failures first, with a summary per group; as CSV, XLSX and signed JSON.

Modules: ``week`` (ISO week names and their bounds), ``collect`` (the week's data from the store,
streamed to a spool), ``formats`` (the three writers), ``signing`` (the report key),
``verify`` (offline verification; imports neither Flask nor SQLAlchemy), ``models`` and
``store`` (kept reports), ``generate`` (one call that builds and keeps a week), ``cli``,
``api``, ``openapi``, ``views`` (console); ``install(app)`` plugs the API and the page in.

This package's ``__init__`` imports nothing (``install`` imports when called), so ``xunjian
report verify`` can import ``server.reports.verify`` (and ``server.reports.cli``) on a
machine without the server's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/reports/weekly`` (nested in the app's ``/api/v1``) and the console's Weekly
    reports page."""
    from server import api
    from server.console.nav import add_nav_items
    from server.reports import api as reports_api
    from server.reports import views

    api.nest(app, reports_api.make_blueprint())
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
