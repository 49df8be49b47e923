"""Host isolation from the console, the API and the command line (POLICY.md I1;
docs/incidents.md): requests signed with the server's command key, the agents' reports of
their rules, and the isolated state shown wherever a host is."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/hosts/<id>/isolation`` (nested in the app's ``/api/v1``) and the console's
    isolate and release form."""
    from server import api
    from server.isolation import api as isolation_api
    from server.isolation import views

    api.nest(app, isolation_api.make_blueprint())
    app.register_blueprint(views.blueprint)
