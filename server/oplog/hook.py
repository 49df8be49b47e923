"""Recording requests: ``install_hook(app)`` (from ``server.oplog.install``) and ``record(...)``.

What is recorded (POLICY.md E12, A1):
* every POST/PUT/PATCH/DELETE to the console and the REST API, with its outcome;
* agent enrollment, and every refused agent request (report and heartbeat successes are not:
  there is one per agent per minute, and the reports table already records them);
* every read of the log itself, allowed or refused.

Each entry carries the client's address and source port: the TCP peer from the WSGI environ,
or the values a trusted reverse proxy forwards (``trusted_proxies``, server/peer.py; the entry's
details then name the proxy as ``via_proxy``). A view that calls ``record`` itself (for a
better action name or target) replaces the hook's entry for that request. A failure to record
is logged and never turns a completed request into an error: the change it describes has
already been committed.

Refusals of unauthenticated requests are kept, but bounded (server/throttle.py): per source
address, action and status, the first in each minute is an entry; its repeats are counted and
written as one entry (``repeats``, first and last source port) when the minute is over and the
next request comes. A flood costs an entry a minute per source and reason, not one each.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, has_request_context, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.store import Appended, OperationLog
from server.state import current_state, db_session, request_peer
from server.store.faults import storage_full
from server.store.models import User
from server.throttle import Closed, RepeatCounter

EXTENSION_KEY = "xunjian.oplog"
REPEATS_KEY = "xunjian.oplog.repeats"  # app.extensions: the RepeatCounter of this app
HOOK_KEY = "xunjian.oplog.hook"  # app.extensions: the after-request hook is on
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AGENT_BLUEPRINT = "agent_api"
OPLOG_BLUEPRINT = "api.oplog"  # GET /api/v1/oplog, nested in the "api" blueprint
OPLOG_PAGES_BLUEPRINT = "oplog_pages"  # the console's Operation log page (server/oplog/views.py)
_RECORDED = "oplog_recorded"
# Stable action names for the endpoints that exist; any other endpoint is recorded under its
# own Flask name ("console.some_view"), so a new view is never left out. A view of a nested
# blueprint is named after the outermost one ("api.alert_ack" for "api.alerts.alert_ack"), as
# it was when every API view sat on the "api" blueprint itself: the log's actions stay stable.
ACTIONS = {
    "console.login": "console.login",
    "console.logout": "console.logout",
    "console.change_password": "console.password.change",
    "console.scan_now": "console.command.create",
    "api.host_command": "api.command.create",
    "agent_api.enroll": "agent.enroll",
    "alerts.ack": "console.alert.ack",
    "alerts.resolve": "console.alert.resolve",
    "alerts.comment": "console.alert.comment",
    "oplog_pages.index": "oplog.view",
    "oplog_pages.export": "oplog.export",
}
MAX_ERROR_BODY = 4096
logger = logging.getLogger("xunjian.server.oplog")


def operation_log(app: Flask | None = None) -> OperationLog:
    """The app's log, made on first use (so ``record`` works whether or not the hook is on)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    log = app.extensions.get(EXTENSION_KEY)
    if log is None:
        with app.app_context():
            state = current_state()
            log = OperationLog(
                state.engine, state.paths.root, OplogSettings.from_config(state.config)
            )
        log = app.extensions.setdefault(EXTENSION_KEY, log)
    assert isinstance(log, OperationLog)
    return log


def client_peer() -> tuple[str, int | None]:
    """The client's (address, source port): the TCP peer as the WSGI server saw it, or, when
    that peer is a trusted proxy (config ``trusted_proxies``), the values its headers forward
    (server/peer.py)."""
    peer = request_peer()
    return peer.address, peer.port


def current_actor() -> tuple[str, str]:
    """(actor, role) of the authenticated person of this request, else ("anonymous", "none").

    Reads what the blueprints set: ``g.user`` (console, a ``User``) and ``g.api_owner`` (API,
    a ``TokenOwner``)."""
    user = g.get("user")
    if user is not None:
        return str(user.name), str(user.role)
    owner = g.get("api_owner")
    if owner is not None:
        return str(owner.user_name), str(owner.role)
    return "anonymous", "none"


def record(
    action: str,
    *,
    outcome: str = "ok",
    reason: str = "",
    target: str = "",
    actor: str | None = None,
    role: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> Appended | None:
    """Append an explicit event, e.g. ``record("agent.enroll", target=f"agent:{agent_id}",
    actor=f"agent:{agent_id}", role="agent")`` or ``record("agent.refused", outcome="refused",
    reason="revoked")``. In a request it takes the peer address, source port and (unless given)
    the authenticated actor, and stands for the request (the hook adds no second entry).

    Call it after committing your own transaction: on SQLite an open write transaction on
    another connection would make this append wait for it. Returns None if the append failed
    (logged)."""
    address, port = ("", None)
    if has_request_context():
        peer = request_peer()
        address, port = peer.address, peer.port
        if peer.via:
            # Which proxy vouched for the address: part of the record, never of the identity.
            details = {**(details or {}), "via_proxy": peer.via}
        found_actor, found_role = current_actor()
        actor = actor if actor is not None else found_actor
        role = role if role is not None else found_role
        g.setdefault(_RECORDED, True)
    fields = EntryFields.make(
        action,
        actor=actor or "anonymous",
        role=role or "none",
        target=target,
        outcome=outcome,
        reason=reason,
        client_address=address,
        client_port=port,
        details=details,
    )
    written: Appended | None = None
    try:
        first = True
        anonymous = (
            has_request_context()
            and (actor or "anonymous") == "anonymous"
            and not g.get("authenticated_agent")
        )
        if outcome == "refused" and anonymous:
            key = (address, action, reason.split(" ", 1)[0])
            first, closed = _repeats().see(key, port)
            _write_repeats(closed)
        if first:
            written = operation_log().append(fields)
    except Exception as error:
        # Broad on purpose: whatever failed (database, key), the request's own work is done;
        # the error log line says an entry is missing.
        full = storage_full(error)
        if full is not None:  # one line, not a traceback per request while the disk is full
            logger.error("operation log: could not record %s (%s): %s", action, outcome, full)
        else:
            logger.exception("operation log: could not record %s (%s)", action, outcome)
    return written


def _repeats() -> RepeatCounter:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    counter = app.extensions.get(REPEATS_KEY)
    if counter is None:
        counter = app.extensions.setdefault(REPEATS_KEY, RepeatCounter())
    assert isinstance(counter, RepeatCounter)
    return counter


def _write_repeats(closed: list[Closed]) -> None:
    """One entry per ended window: how many refusals of that source, action and status
    followed its first (which has an entry of its own)."""
    for item in closed:
        address, action, status = item.key  # type: ignore[misc]
        window = item.window
        operation_log().append(
            EntryFields.make(
                action,
                actor="anonymous",
                role="none",
                outcome="refused",
                reason=f"{status} repeated {window.count} more time(s) within a minute",
                client_address=address,
                client_port=window.last_port,
                details={
                    "repeats": window.count,
                    "first_port": window.first_port,
                    "last_port": window.last_port,
                },
            )
        )


def flush_repeats(app: Flask) -> int:
    """Write every counted repeat now (tests, and a server that stops); returns entries."""
    counter = app.extensions.get(REPEATS_KEY)
    if not isinstance(counter, RepeatCounter):
        return 0
    closed = counter.flush()
    with app.app_context():
        _write_repeats(closed)
    return len(closed)


def _outcome(response: Response) -> tuple[str, str]:
    status = response.status_code
    if status < 400:
        return "ok", ""
    reason = f"HTTP {status}"
    if response.is_json and (response.content_length or 0) <= MAX_ERROR_BODY:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            reason = f"{status} {body['error']}"
    return ("error" if status >= 500 else "refused"), reason


def _form_value(name: str) -> str:
    """A field of the request's form, or "" when the form cannot be read: a body over the
    limit (the 413 being recorded) raises again on every read, and must not turn the refusal's
    entry into a traceback."""
    try:
        return str(request.form.get(name, ""))
    except HTTPException:
        return ""


# A created thing's page, where a console form sends the person after adding it
# ("/monitors/5?saved=1" -> "monitor:5").
_CREATED_PAGE = re.compile(r"^/(?P<kind>[a-z][a-z-]*?)s?/(?P<id>[0-9]+|[0-9a-f-]{36})(?:[/?]|$)")


def _target(response: Response) -> str:
    """What the request acted on: the login's name, the URL's ids, the thing a request created
    (the page a form is sent to, or the id an API answer gives), the person for their own
    sign-out or password; else the path itself, so no entry's target is blank."""
    if request.endpoint == "console.login":
        return f"user:{_form_value('name')[:64]}"
    args = request.view_args or {}
    if args:
        return ",".join(f"{name.removesuffix('_id')}:{value}" for name, value in args.items())
    if request.endpoint in {"console.logout", "console.change_password"}:
        actor, _role = current_actor()
        return f"user:{actor}"
    if response.status_code in (201, 301, 302, 303) and response.location:
        created = _CREATED_PAGE.match(urlsplit(response.location).path or "")
        if created:
            return f"{created['kind']}:{created['id']}"
    if response.status_code == 201 and response.is_json:
        body = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("id"), int | str):
            kind = request.path.rstrip("/").rsplit("/", 1)[-1].removesuffix("s")
            return f"{kind}:{body['id']}"
    return f"path:{request.path[:200]}"


def _wanted() -> bool:
    blueprint = request.blueprint
    if blueprint in {AGENT_BLUEPRINT, OPLOG_BLUEPRINT, OPLOG_PAGES_BLUEPRINT}:
        return True  # (the pages record each view themselves; this catches the rest)
    # Console, API and every feature's pages: each state-changing request is an entry.
    return request.method in WRITE_METHODS


def _after_request(response: Response) -> Response:
    if g.get(_RECORDED) or not _wanted():
        return response
    try:
        _record_request(response)
    except Exception:
        # Never turn a finished request into an error; the log line says an entry is missing.
        logger.exception("operation log: could not record %s %s", request.method, request.path)
    return response


def _action_endpoint() -> str:
    """The request's endpoint as the log names it: the outermost blueprint and the view."""
    endpoint = request.endpoint or ""
    if not request.blueprints:
        return endpoint
    return f"{request.blueprints[-1]}.{endpoint.rpartition('.')[2]}"


def _record_request(response: Response) -> None:
    outcome, reason = _outcome(response)
    blueprint = request.blueprint
    endpoint = _action_endpoint()
    if blueprint == AGENT_BLUEPRINT and endpoint != "agent_api.enroll" and outcome == "ok":
        return  # reports, heartbeats, policy: too many, and stored elsewhere
    actor, role = current_actor()
    target = _target(response)
    details: dict[str, Any] = {
        "method": request.method,
        "path": request.path[:200],
        "status": response.status_code,
    }
    if blueprint == AGENT_BLUEPRINT:
        action = ACTIONS.get(endpoint, "agent.refused")
        claimed = request.headers.get("X-Xunjian-Agent", "")
        if claimed:
            details["claimed_agent"] = claimed[:64]  # unverified: the request was refused
        if endpoint == "agent_api.enroll" and outcome == "ok":
            agent_id = (response.get_json(silent=True) or {}).get("agent_id", "")
            target = f"agent:{agent_id}"
    elif blueprint == OPLOG_BLUEPRINT:
        action = "oplog.read"
    else:
        action = ACTIONS.get(endpoint, endpoint)
        if endpoint == "console.login" and outcome == "ok":
            actor, role = _logged_in(_form_value("name"))
    owner = g.get("api_owner")
    if owner is not None:
        details["token_id"] = owner.token_id
    record(
        action,
        outcome=outcome,
        reason=reason,
        target=target,
        actor=actor,
        role=role,
        details=details,
    )


def _logged_in(name: str) -> tuple[str, str]:
    """The person a successful login authenticated (g.user is set only from the next request)."""
    with db_session() as session:
        role = session.scalar(select(User.role).where(User.name == name))
    return (name, role) if role is not None else ("anonymous", "none")


def install_hook(app: Flask) -> None:
    """Record the app's requests in its operation log (once: twice would record every request
    twice)."""
    if app.extensions.get(HOOK_KEY):
        return
    app.extensions[HOOK_KEY] = True
    operation_log(app)
    app.after_request(_after_request)
