"""What ``create_app`` calls: the report API on the ``api`` blueprint, and the console page."""

from __future__ import annotations

from flask import Blueprint, Flask


def install_reports(app: Flask, api_blueprint: Blueprint) -> None:
    from server.reports import api

    api.attach(api_blueprint)
    from server.reports import views

    if views.blueprint.name not in app.blueprints:
        app.register_blueprint(views.blueprint)
