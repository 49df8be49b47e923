"""Agentless checks of the organisation's network devices (routers, Wi-Fi access points, NAS,
switches, Linux boxes): an inventory kept with the admin's recorded authorisation, an SSH prober
that looks for vendor-default credentials (POLICY.md E2, E5), and the Linux collectors run over
SSH with the organisation's own key. See docs/devices.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def install(app: Flask) -> None:
    """``/api/v1/devices`` (nested in the app's ``/api/v1``) and the console's Devices page."""
    from server import api
    from server.console.nav import add_nav_items
    from server.devices import api as devices_api
    from server.devices import jobs, views
    from server.threads import add_thread

    api.nest(app, devices_api.make_blueprint())
    app.register_blueprint(views.blueprint)
    add_nav_items(app, views.NAV)
    add_thread(app, jobs.start_device_worker, join_seconds=30)  # a check may take half a minute
