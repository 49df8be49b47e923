"""Evidence snapshots (POLICY.md I1, A2; docs/incidents.md, "Evidence"): the archives agents
upload (server/agent_api.py with ``intake.py``), kept write-once apart from everything else
(``storage.py``), listed and downloaded through ``/api/v1/evidence``, the host page's Evidence
page and ``xunjian server evidence list|download``, every access in the operation log."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/evidence`` (nested in the app's ``/api/v1``) and the console's pages."""
    from server import api
    from server.evidence import api as evidence_api
    from server.evidence import views

    api.nest(app, evidence_api.make_blueprint())
    app.register_blueprint(views.blueprint)
