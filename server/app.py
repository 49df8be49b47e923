"""The Flask app factory. Nothing happens at import; ``create_app`` reads the data folder."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response

from server.config import DataPaths, load_config, read_secret_key
from server.settings.runtime import MAX_SESSION_IDLE_SECONDS
from server.state import EXTENSION_KEY, ServerState
from server.store.engine import make_engine, make_sessionmaker
from xunjian.core.paths import default_server_data

# The console loads nothing from other origins (no CDN, no inline script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def create_app(
    data_dir: Path | None = None, config_overrides: dict[str, Any] | None = None
) -> Flask:
    root = data_dir if data_dir is not None else default_server_data()
    config = load_config(root, config_overrides)
    engine = make_engine(config.database_url)

    app = Flask(__name__, static_folder=None)
    app.secret_key = read_secret_key(root)
    app.config.update(
        # Werkzeug refuses bigger bodies while reading, for every endpoint (forms included).
        MAX_CONTENT_LENGTH=config.max_body_bytes,
        SESSION_COOKIE_NAME="xunjian_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # The idle limit is enforced on the server (console_sessions, with the run-time
        # session_idle_seconds an admin may change in Settings); the cookie only outlives it.
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(
            seconds=max(config.session_idle_seconds, MAX_SESSION_IDLE_SECONDS)
        ),
        JSON_SORT_KEYS=False,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION_KEY] = ServerState(
        config=config, paths=DataPaths(root), engine=engine, sessions=make_sessionmaker(engine)
    )

    from werkzeug.exceptions import RequestEntityTooLarge

    from server import agent_api, api
    from server.alerts import api as alerts_api
    from server.alerts import console as alert_pages
    from server.console import views as console
    from server.console.auth import init_console
    from server.devices.wiring import install_devices
    from server.files import api as files_api
    from server.files import views as file_pages
    from server.fleet import views as fleet
    from server.monitors import api as monitors_api
    from server.monitors import views as monitor_pages
    from server.policy_settings import views as policy_settings_pages
    from server.reports.wiring import install_reports
    from server.settings.views import blueprint as settings_pages

    alerts_api.attach(api.blueprint)  # /api/v1/alerts, on the api blueprint (its oplog record)
    files_api.attach(api.blueprint)  # /api/v1/file-events, /api/v1/groups/<name>/watch
    monitors_api.attach(api.blueprint)  # /api/v1/monitors
    install_reports(app, api.blueprint)  # /api/v1/reports/weekly, console Weekly reports
    install_devices(app, api.blueprint)  # /api/v1/devices and the console's Devices page
    app.register_blueprint(agent_api.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(console.blueprint)
    app.register_blueprint(alert_pages.blueprint)  # the console's Alerts pages
    app.register_blueprint(policy_settings_pages.blueprint)  # /settings/groups, channels, roster
    app.register_blueprint(settings_pages)  # /settings: accounts, tokens, retention (admin)
    app.register_blueprint(fleet.blueprint)  # dashboard, hosts, host, checks (server/fleet)
    app.register_blueprint(file_pages.blueprint)  # File changes: events and watched folders
    app.register_blueprint(monitor_pages.blueprint)  # Monitors pages (server/monitors)
    init_console(app, config.console_language)
    app.register_error_handler(RequestEntityTooLarge, agent_api.too_large)
    app.after_request(_security_headers)

    from server.oplog.hook import install_oplog

    install_oplog(app)
    return app
