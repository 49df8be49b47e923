"""The one place ``server/app.py`` calls: the device API on the ``api`` blueprint (before it is
registered) and the console's Devices page."""

from __future__ import annotations

from flask import Blueprint, Flask


def install_devices(app: Flask, api_blueprint: Blueprint) -> None:
    from server.devices import api, views

    api.attach(api_blueprint)
    app.register_blueprint(views.blueprint)
