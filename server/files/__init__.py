"""File events from the agents' watchers: stored, raising web-shell and sensitive-word alerts,
listed by the API and the console (docs/file-watcher.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/file-events`` and ``/api/v1/groups/<name>/watch`` (nested in the app's
    ``/api/v1``) and the console's File changes pages."""
    from server import api
    from server.console.nav import add_nav_items
    from server.files import api as files_api
    from server.files import views

    api.nest(app, files_api.make_blueprint())
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
