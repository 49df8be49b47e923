"""Incidents (POLICY.md I1, I2): a record tying together alerts, the host, notes and a
timeline, escalated through the on-call roster until someone acknowledges it, and reported
to the higher authority as a document to print and sign (docs/incidents.md).

* ``models``     the ``incidents``, ``incident_alerts``, ``incident_events`` and
                 ``incident_notifications`` tables
* ``store``      open, ``record_event`` (what other features call), note, acknowledge, close
* ``escalation`` the roster's tiers, through the alert channels and notifiers
* ``report``     the Chinese DOCX report
* ``api``        ``/api/v1/incidents``
* ``views``      the console's Incidents pages and the panel on an alert's page
* ``cli``        ``xunjian server incident ...``
* ``jobs``       the escalation thread ``xunjian server run`` starts in each process

``install(app)`` plugs the API, the pages and the thread into the app; this ``__init__``
imports nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/incidents``, the Incidents pages, the alert page's incident panel (a template
    global it calls), and the escalation thread."""
    from server import api
    from server.console.nav import add_nav_items
    from server.incidents import api as incidents_api
    from server.incidents import jobs, views
    from server.threads import add_thread

    api.nest(app, incidents_api.make_blueprint())
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    app.add_template_global(views.incident_panel, "incident_panel")
    add_thread(app, jobs.start_incident_worker)
