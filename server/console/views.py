"""Console views: login with lockout, forced password change, hosts and a host's results.

Sessions live in the database (``console_sessions``); the signed Flask cookie holds only the
session's secret id and the CSRF token. Every POST form carries that CSRF token.
"""

from __future__ import annotations

import datetime
import hmac
import json
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from server.console.strings import LABELS, label, value_label
from server.policy import check_catalog
from server.security import burn_password_check, password_problem, verify_password
from server.state import current_state, db_session, events, log_refusal
from server.store.accounts import (
    clear_failures,
    end_session,
    locked_until,
    record_failure,
    resume_session,
    set_password,
    start_session,
    user_by_name,
)
from server.store.agents import queue_command
from server.store.models import User
from server.store.queries import get_host, inventory, iso, latest_results, list_hosts

blueprint = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/console",
)

HOSTS_PER_PAGE = 200
COMMAND_ROLES = ("admin", "operator")
View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def _language() -> str:
    return current_state().config.console_language


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


@blueprint.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@blueprint.context_processor
def _template_helpers() -> dict[str, Any]:
    language = _language()
    return {
        "t": lambda key: label(key, language),
        "tv": lambda kind, value: value_label(kind, str(value), language),
        "language": language,
        "csrf_token": csrf_token,
        "current_user": g.get("user"),
        "iso": iso,
    }


@blueprint.before_request
def _load_user_and_check_csrf() -> ResponseReturnValue | None:
    if request.endpoint == "console.static":
        return None
    session.permanent = True  # the cookie expires with the idle limit, too
    g.user = None
    secret = session.get("sid")
    if isinstance(secret, str):
        idle = datetime.timedelta(seconds=current_state().config.session_idle_seconds)
        with db_session() as db:
            g.user = resume_session(db, secret, idle)
        if g.user is None:
            session.pop("sid", None)
    if request.method == "POST":
        sent = request.form.get("csrf_token", "")
        expected = session.get("csrf")
        if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
            log_refusal(400, "missing or wrong CSRF token on a console form")
            abort(400, label("csrf_refused", _language()))
    return None


@blueprint.errorhandler(HTTPException)
def _error_page(error: HTTPException) -> ResponseReturnValue:
    """Console errors as console pages (the agent and API blueprints answer in JSON)."""
    code = error.code or 500
    if f"error.{code}" not in LABELS:
        return error
    # Werkzeug's stock descriptions are English prose; show only what the console itself said.
    said = error.description if error.description != type(error).description else None
    return render_template("error.html", code=code, description=said), code


@blueprint.after_request
def _no_store(response: Response) -> Response:
    # Pages show hosts and evidence: keep them out of shared caches and the back button.
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def login_required(view: View) -> View:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        user: User | None = g.user
        if user is None:
            return redirect(url_for("console.login"))
        if user.must_change_password and request.endpoint != "console.change_password":
            return redirect(url_for("console.change_password"))
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _remote_address() -> str:
    return str(request.environ.get("REMOTE_ADDR", "-"))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("login.html", error=None, name="")
    name = request.form.get("name", "")[:64]
    password = request.form.get("password", "")[:256]
    address = _remote_address()
    config = current_state().config
    lockout = datetime.timedelta(seconds=config.login_lockout_seconds)
    with db_session() as db:
        if locked_until(db, address, name) is not None:
            # The lockout answers exactly like a wrong password: no hint that it is in force.
            burn_password_check(password)
            log_refusal(401, f"console login for {name!r} while locked out")
            return render_template(
                "login.html", error=label("login_failed", _language()), name=name
            ), 401
        user = user_by_name(db, name)
        if user is None:
            burn_password_check(password)
        if user is None or not verify_password(user.password_hash, password):
            try:
                locked = record_failure(db, address, name, config.login_max_failures, lockout)
                db.commit()
            except IntegrityError:
                # Another process counted a failure for this pair at the same moment; one of
                # the two counts is lost, which a brute force at this speed cannot exploit.
                db.rollback()
                locked = False
            log_refusal(
                401, f"console login failed for {name!r}" + ("; locked out" if locked else "")
            )
            return render_template(
                "login.html", error=label("login_failed", _language()), name=name
            ), 401
        clear_failures(db, address, name)
        secret = start_session(db, user)
        db.commit()
        must_change = user.must_change_password
    # A fresh cookie at login: nothing from before (a planted session) survives into it.
    session.clear()
    session.permanent = True
    session["sid"] = secret
    session["csrf"] = secrets.token_urlsafe(32)
    events.info("console login %s from %s", name, address)
    return redirect(url_for("console.change_password" if must_change else "console.hosts"))


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    secret = session.get("sid")
    if isinstance(secret, str):
        with db_session() as db:
            end_session(db, secret)
            db.commit()
    session.clear()
    return redirect(url_for("console.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("password.html", error=None)
    language = _language()
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    confirm = request.form.get("confirm_password", "")
    with db_session() as db:
        user = db.get(User, g.user.id)
        assert user is not None  # the session was resumed for this user moments ago
        error: str | None = None
        problem: str | None = None
        if not verify_password(user.password_hash, current[:256]):
            error = label("wrong_current", language)
        elif new != confirm:
            error = label("mismatch", language)
        elif new == current:
            error = label("same_password", language)
        elif (problem := password_problem(new)) is not None:
            # The reason is logged in English; the person reads the whole rule in their language.
            error = label("weak_password", language) + label("password_rule", language)
        if error is not None:
            reason = problem if problem is not None else error
            log_refusal(400, f"password change for {user.name!r} refused: {reason}")
            return render_template("password.html", error=error), 400
        set_password(db, user, new)
        secret = start_session(db, user)
        db.commit()
        name = user.name
    session["sid"] = secret
    events.info("console password changed by %s from %s", name, _remote_address())
    return redirect(url_for("console.hosts"))


@blueprint.get("/")
@login_required
def index() -> ResponseReturnValue:
    return redirect(url_for("console.hosts"))


@blueprint.get("/hosts")
@login_required
def hosts() -> ResponseReturnValue:
    raw_offset = request.args.get("offset", "0")
    offset = int(raw_offset) if raw_offset.isdigit() and len(raw_offset) < 9 else 0
    with db_session() as db:
        rows, total = list_hosts(
            db, current_state().config.offline_after_seconds, HOSTS_PER_PAGE, offset
        )
    return render_template(
        "hosts.html", hosts=rows, total=total, offset=offset, limit=HOSTS_PER_PAGE
    )


def _titles() -> dict[str, str]:
    language = _language()
    titles: dict[str, str] = {}
    for entry in check_catalog():
        title = entry.get("title")
        if isinstance(title, dict):
            text = title.get(language) or title.get("en")
            if isinstance(text, str):
                titles[str(entry.get("id"))] = text
    return titles


@blueprint.get("/hosts/<host_id>")
@login_required
def host(host_id: str) -> ResponseReturnValue:
    with db_session() as db:
        row = get_host(db, host_id, current_state().config.offline_after_seconds)
        if row is None:
            abort(404)
        results = latest_results(db, host_id)
        inventory_row = inventory(db, host_id)
    notice = label("scan_queued", _language()) if request.args.get("queued") else None
    return render_template(
        "host.html",
        host=row,
        results=results,
        inventory=inventory_row,
        titles=_titles(),
        can_command=g.user.role in COMMAND_ROLES,
        notice=notice,
    )


@blueprint.post("/hosts/<host_id>/scan-now")
@login_required
def scan_now(host_id: str) -> ResponseReturnValue:
    user: User = g.user
    if user.role not in COMMAND_ROLES:
        log_refusal(403, f"console user {user.name!r} ({user.role}) may not queue commands")
        abort(403)
    with db_session() as db:
        row = get_host(db, host_id, current_state().config.offline_after_seconds)
        if row is None:
            abort(404)
        if row.revoked:
            abort(409)
        command = queue_command(db, host_id, "scan_now", user.id)
        db.commit()
    events.info("user %s queued scan_now for host %s (command %s)", user.name, host_id, command.id)
    return redirect(url_for("console.host", host_id=host_id, queued=1))
