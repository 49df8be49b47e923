"""What every console page shares: the signed-in person, idle sessions, CSRF, roles, errors.

Each feature's pages live in their own blueprint made by ``console_blueprint``; it gets the
same request hooks as the login pages, so no feature can forget the CSRF check or the idle
limit. Sessions live in the database (``console_sessions``); the signed Flask cookie holds only
the session's secret id, the CSRF token and the chosen language.
"""

from __future__ import annotations

import datetime
import hmac
import json
import secrets
import shlex
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from server.console.i18n import LOCALES, SESSION_KEY, init_i18n
from server.console.nav import nav_items
from server.settings.runtime import effective_settings
from server.state import current_state, db_session, log_refusal
from server.store.accounts import resume_session
from server.store.models import User

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])

# Error pages the console draws itself; other codes fall through to Werkzeug's.
ERROR_TITLES = {
    400: _l("Request refused"),
    403: _l("Not allowed"),
    404: _l("Not found"),
    409: _l("Conflict with the current state"),
    413: _l("Too much data"),
}

# Stored ids (roles, statuses, severities, inventory keys) as words; unknown ids as they are.
VALUE_LABELS: dict[str, dict[str, Any]] = {
    "role": {"admin": _l("admin"), "operator": _l("operator"), "auditor": _l("auditor")},
    "status": {
        "pass": _l("pass"),
        "fail": _l("fail"),
        "error": _l("error"),
        "not_applicable": _l("not applicable"),
        "no_privilege": _l("no privilege"),
        "open": _l("open"),
        "acknowledged": _l("acknowledged"),
        "resolved": _l("resolved"),
    },
    "severity": {
        "info": _l("info"),
        "low": _l("low"),
        "medium": _l("medium"),
        "high": _l("high"),
        "critical": _l("critical"),
    },
    # What a host runs (agents.platform: as its newest scan said; "device" for a network device).
    "platform": {
        "linux": _l("Linux"),
        "windows": _l("Windows"),
        "macos": _l("macOS"),
        "device": _l("network device"),
    },
    "inventory": {
        "hostname": _l("Host name"),
        "os": _l("Operating system"),
        "os_version": _l("OS version"),
        "os_build": _l("OS build"),
        "kernel": _l("Kernel"),
        "architecture": _l("Architecture"),
        "platform": _l("Platform"),
        "addresses": _l("Addresses"),
    },
}


def value_label(kind: str, value: Any) -> str:
    found = VALUE_LABELS.get(kind, {}).get(str(value))
    return str(found) if found is not None else str(value)


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def server_command(*words: str) -> str:
    """``xunjian server WORDS --data DIR`` for this server's data folder, as a page prints it
    for a person to paste on the server: exact, whatever folder the server runs with."""
    data = current_state().paths.root.resolve()
    return shlex.join(["xunjian", "server", *words, "--data", str(data)])


def _template_helpers() -> dict[str, Any]:
    user: User | None = g.get("user")
    return {
        "server_command": server_command,
        "tv": value_label,
        "csrf_token": csrf_token,
        "current_user": user,
        # A person who must change their password is sent back from every page: a
        # navigation bar whose links all lead back here would only mislead.
        "nav": nav_items(user.role) if user is not None and not user.must_change_password else [],
        "locales": LOCALES,
    }


def is_asset_request() -> bool:
    """A page's asset (style sheet, script, image, the favicon): it neither reads nor changes
    the session."""
    endpoint = request.endpoint
    return endpoint is not None and (endpoint.endswith(".static") or endpoint == "console.favicon")


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except that an asset's answer carries no cookie.

    A permanent session is sent again with every answer (SESSION_REFRESH_EACH_REQUEST). A
    page's assets are fetched beside it, each with the cookie of its moment: an asset's answer
    that left before a language switch (or a log-in) and arrived after it put the older session
    back, and the next page came in the other language (seen in a browser test with four
    workers). Assets never change the session, so their answers leave the cookie alone."""

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if is_asset_request():
            return False
        return super().should_set_cookie(app, session)


def load_user_and_check_csrf() -> ResponseReturnValue | None:
    """Before every console request: resume the session (or forget it) and, on POST, require
    the form's CSRF token to equal the session's."""
    if is_asset_request():
        return None
    session.permanent = True  # the cookie expires with the idle limit, too
    g.user = None
    secret = session.get("sid")
    if isinstance(secret, str):
        with db_session() as db:
            # The run-time value (Settings > Retention and sessions), else config.json's.
            effective = effective_settings(db, current_state().config)
            idle = datetime.timedelta(seconds=effective.session_idle_seconds)
            g.user = resume_session(db, secret, idle)
        if g.user is None:
            session.pop("sid", None)
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf")
        if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            log_refusal(400, "missing or wrong CSRF token on a console form")
            abort(
                400,
                _(
                    "Missing or wrong CSRF token: nothing was changed. "
                    "Reload the page and try again."
                ),
            )
    return None


def error_page(error: HTTPException) -> ResponseReturnValue:
    """Console errors as console pages (the agent and API blueprints answer in JSON)."""
    code = error.code or 500
    title = ERROR_TITLES.get(code)
    if title is None:
        return error
    # Werkzeug's stock descriptions are English prose; show only what the console itself said.
    said = error.description if error.description != type(error).description else None
    return render_template("error.html", code=code, title=title, description=said), code


def no_store(response: Response) -> Response:
    # Pages show hosts and evidence: keep them out of shared caches and the back button.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def console_blueprint(name: str, import_name: str, **options: Any) -> Blueprint:
    """A blueprint for console pages, with the shared hooks attached.

    Templates go under the package's ``templates/<feature>/`` so names never collide."""
    options.setdefault("template_folder", "templates")
    blueprint = Blueprint(name, import_name, **options)
    blueprint.before_request(load_user_and_check_csrf)
    blueprint.after_request(no_store)
    blueprint.register_error_handler(HTTPException, error_page)
    return blueprint


def login_required(view: View) -> View:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        user: User | None = g.get("user")
        if user is None:
            return redirect(url_for("console.login"))
        if user.must_change_password and request.endpoint != "console.change_password":
            return redirect(url_for("console.change_password"))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def roles_required(*roles: str) -> Callable[[View], View]:
    """``@roles_required("admin", "operator")`` under ``@login_required``-like behaviour:
    a person without one of the roles gets a 403 page, and the refusal is logged."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user: User | None = g.get("user")
            if user is None:
                return redirect(url_for("console.login"))
            if user.must_change_password:
                return redirect(url_for("console.change_password"))
            if user.role not in roles:
                log_refusal(
                    403, f"console user {user.name!r} ({user.role}) may not use {request.path}"
                )
                abort(403)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def safe_next(target: str | None, fallback: str) -> str:
    """Only a local path is followed after a switch (no open redirect to another site)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


def choose_language(code: str) -> ResponseReturnValue:
    """The header's language switch: kept in this browser's session only."""
    if code not in LOCALES:
        abort(404)
    session[SESSION_KEY] = code
    return redirect(safe_next(request.args.get("next"), url_for("fleet.dashboard")))


def init_console(app: Flask, default_language: str) -> None:
    """App-wide console set-up: the session's cookie, languages, template helpers."""
    app.session_interface = ConsoleSessionInterface()
    init_i18n(app, default_language)
    app.context_processor(_template_helpers)
    app.add_template_filter(pretty_json, "pretty_json")
