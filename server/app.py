"""The Flask app factory. Nothing happens at import; ``create_app`` reads the data folder and
calls each feature's ``install(app)`` (docs/architecture.md, "Features")."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, Response, request

from server.config import DataPaths, load_config, read_secret_key
from server.settings.runtime import MAX_SESSION_IDLE_SECONDS
from server.state import EXTENSION_KEY, ServerState
from server.store.engine import make_engine, make_sessionmaker
from server.url_rules import SharedBuilderRule
from xunjian.core.paths import default_server_data

# The console loads nothing from other origins (no CDN, no inline script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


# Browsers that once reached the console over HTTPS never try plain HTTP for it again (a year).
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


def _security_headers(response: Response) -> Response:
    if request.is_secure:  # on HTTP the header means nothing, and must not be sent (RFC 6797)
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
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
    app.url_rule_class = SharedBuilderRule
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

    # /api/v1 is one blueprint per app; each feature nests its API in it from install(app), and
    # it is registered after them (Flask nests blueprints only before registering them).
    api_v1 = api.api_blueprint()
    app.extensions[api.EXTENSION_KEY] = api_v1
    app.register_blueprint(agent_api.blueprint)
    app.register_error_handler(RequestEntityTooLarge, agent_api.too_large)
    app.after_request(_security_headers)
    for install in _features():
        install(app)
    app.register_blueprint(api_v1)
    # Reports that pass every check are stored without Flask's request machinery; the rest
    # reach the view (server/agent_api.py ReportFastPath).
    headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]
    secure = [("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY), *headers]
    app.wsgi_app = agent_api.ReportFastPath(app, app.wsgi_app, headers, secure)  # type: ignore[method-assign]
    return app


def _features() -> tuple[Callable[[Flask], None], ...]:
    """Every feature's ``install(app)``: its API nested under /api/v1, its console pages, its
    request hooks, its background thread (started by ``xunjian server run`` only). The
    operation log's hook is added after the security headers, so it runs before them (Flask
    runs after-request functions in reverse), as it always has."""
    from server import (
        alerts,
        console,
        devices,
        evidence,
        files,
        fleet,
        incidents,
        isolation,
        jobs,
        monitors,
        oplog,
        policy_settings,
        reports,
        settings,
        sites,
    )

    return (
        console.install,  # login, password, languages (server/console)
        fleet.install,  # dashboard, hosts, host, checks
        isolation.install,  # /api/v1/hosts/<id>/isolation, the isolate and release form
        alerts.install,  # /api/v1/alerts, the Alerts pages
        incidents.install,  # /api/v1/incidents, the Incidents pages, escalation
        policy_settings.install,  # /settings/groups, channels, roster
        settings.install,  # /settings: accounts, tokens, retention (admin)
        files.install,  # /api/v1/file-events, /api/v1/groups/<name>/watch, File changes pages
        monitors.install,  # /api/v1/monitors, the Monitors pages
        sites.install,  # /api/v1/sites, the Site health pages, the nightly crawls (E13)
        reports.install,  # /api/v1/reports/weekly, the Weekly reports page
        devices.install,  # /api/v1/devices, the Devices page
        evidence.install,  # /api/v1/evidence, a host's Evidence page (docs/incidents.md)
        oplog.install,  # the request hook, /api/v1/oplog, the Operation log page
        jobs.install,  # the leased jobs' thread (weekly reports, purges)
    )
