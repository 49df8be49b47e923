"""Settings an administrator changes in the console: console accounts, enrollment tokens, API
tokens and the run-time settings (retention, session idle) that override config.json.

The pages are the "settings" blueprint (``server/settings/views.py``); the functions behind them
are here (``runtime.py``, ``accounts.py``, ``tokens.py``) so the CLI and tests use them too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """The Settings pages (``/settings``: accounts, tokens, retention; admins only)."""
    from server.console.nav import add_nav_items
    from server.settings import views

    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
