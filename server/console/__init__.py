"""The console: server-rendered pages for people (login, hosts, a host's results)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """The console's own pages (login, password, language) and what every console page
    shares: languages, template helpers."""
    from server.console import views
    from server.console.auth import init_console
    from server.state import EXTENSION_KEY

    app.register_blueprint(views.blueprint)
    init_console(app, app.extensions[EXTENSION_KEY].config.console_language)
