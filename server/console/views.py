"""Console views: login with lockout, forced password change, the language switch.

Sessions live in the database (``console_sessions``); the signed Flask cookie holds only the
session's secret id and the CSRF token. Every POST form carries that CSRF token.
"""

from __future__ import annotations

import datetime
import secrets

from flask import (
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from server.console.auth import choose_language, console_blueprint, login_required
from server.security import burn_password_check, password_problem, verify_password
from server.state import current_state, db_session, events, log_refusal, request_peer
from server.store.accounts import (
    clear_failures,
    end_session,
    locked_until,
    record_failure,
    set_password,
    start_session,
    user_by_name,
)
from server.store.models import User

blueprint = console_blueprint(
    "console", __name__, static_folder="static", static_url_path="/static/console"
)


@blueprint.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """Browsers ask for /favicon.ico on every site, whatever the page links: answer it rather
    than fill the log with 404s (the pages link the same file)."""
    return blueprint.send_static_file("favicon.ico")


# After login and after a password change: the dashboard (server/fleet, which also serves the
# hosts, host and checks pages).
LANDING = "fleet.dashboard"


def _login_failed() -> str:
    return _("Login failed. Check the name and password; after repeated failures, wait a while.")


def _remote_address() -> str:
    # The client behind a trusted reverse proxy (server/peer.py), so a lockout hits one client.
    return request_peer().address or "-"


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
            return render_template("login.html", error=_login_failed(), name=name), 401
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
            return render_template("login.html", error=_login_failed(), name=name), 401
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
    return redirect(url_for("console.change_password" if must_change else LANDING))


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
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    confirm = request.form.get("confirm_password", "")
    with db_session() as db:
        user = db.get(User, g.user.id)
        assert user is not None  # the session was resumed for this user moments ago
        error: str | None = None
        problem: str | None = None
        if not verify_password(user.password_hash, current[:256]):
            error = _("The current password is not correct.")
        elif new != confirm:
            error = _("The new passwords differ.")
        elif new == current:
            error = _("The new password must differ from the current one.")
        elif (problem := password_problem(new)) is not None:
            # The reason is logged in English; the person reads the whole rule in their language.
            error = _("The new password does not meet the rule: ") + password_rule()
        if error is not None:
            reason = problem if problem is not None else error
            log_refusal(400, f"password change for {user.name!r} refused: {reason}")
            return render_template("password.html", error=error), 400
        set_password(db, user, new)
        secret = start_session(db, user)
        db.commit()
        name = user.name
    _forget_initial_password(current)
    session["sid"] = secret
    events.info("console password changed by %s from %s", name, _remote_address())
    return redirect(url_for(LANDING))


def _forget_initial_password(replaced: str) -> None:
    """The first admin's one-time password (written by ``xunjian server init``) is deleted
    once it was changed: a readable file with a password that no longer works only teaches
    people to look in it. Only when the password replaced is the file's, so another account's
    change leaves it for the first admin."""
    path = current_state().paths.initial_password
    try:
        written = path.read_text().strip()
    except OSError:
        return  # already gone
    if written and secrets.compare_digest(written.encode(), replaced.encode()):
        path.unlink(missing_ok=True)
        events.info("the initial admin password file %s was deleted after its change", path)


@blueprint.get("/language/<code>")
def language(code: str) -> ResponseReturnValue:
    return choose_language(code)


def password_rule() -> str:
    return _("At least 8 characters, with three of: lower case, upper case, digits, symbols.")
