"""The REST API for scripts and auditors: ``Authorization: Bearer <api token>``.

Roles: every valid token may read; only admin and operator tokens may queue commands.

``/api/v1`` is one blueprint per app, named ``api`` (``api_blueprint``): this module's host views
are nested in it, and each feature nests its own API blueprint in it from its ``install(app)``
(``nest``), so every view under ``/api/v1`` shares the token check, the 400 for a bad parameter
and the operation log's ``api.<view>`` action names (server/oplog/hook.py).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from server.apidoc import MAX_PATH_ID, documented, openapi_document
from server.state import db_session, log_refusal, refuse
from server.store.accounts import TokenOwner, authenticate_api_token
from server.store.faults import storage_full
from xunjian.core.schema import BodyError

API_PREFIX = "/api/v1"
EXTENSION_KEY = "xunjian.api"  # app.extensions: this app's /api/v1 blueprint, until registered
blueprint = Blueprint("meta", __name__)  # this document; nested in the app's "api" blueprint

WRITER_ROLES = ("admin", "operator")
_API_PATHS = "/api/"  # where a wrong path or method is answered in JSON
_DOCUMENT_KEY = "xunjian.openapi"

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        return None
    return token.strip()


def token_required(view: View) -> View:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        token = _bearer_token()
        if token is None:
            return refuse(401, "missing or malformed bearer token")
        with db_session() as session:
            owner = authenticate_api_token(session, token)
        if owner is None:
            return refuse(401, "unknown or revoked API token")
        g.api_owner = owner
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def owner() -> TokenOwner:
    """The API token's owner of this request (set by ``token_required``)."""
    owner: TokenOwner = g.api_owner
    return owner


def refused_unless_writer(what: str) -> ResponseReturnValue | None:
    """A logged 403 when the token's role may not change things (only admin and operator
    may); None when it may. ``what`` names the change in the refusal: "add sites"."""
    caller = owner()
    if caller.role not in WRITER_ROLES:
        return refuse(403, f"role {caller.role} may not {what} ({caller.user_name})")
    return None


def refused_unless_admin_names_a_file(values: dict[str, Any]) -> ResponseReturnValue | None:
    """A logged 403 when a non-admin token sets ``ca_file``: only admins name a file on the
    server (an operator could probe for files otherwise). Monitors and sites both take one."""
    caller = owner()
    if values.get("ca_file") and caller.role != "admin":
        return refuse(403, f"only admins set ca_file ({caller.user_name})")
    return None


def _ids_in_range(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An ``<int:...>`` id past what an id column holds is no such item, not a database error
    (PostgreSQL's INTEGER ends at 2**31 - 1); the document says the same bound. Likewise a
    name with a NUL character."""
    for value in (values or {}).values():
        if isinstance(value, int) and value > MAX_PATH_ID:
            raise NotFound()
        if isinstance(value, str) and "\x00" in value:  # no name holds one (PostgreSQL text)
            raise NotFound()


@blueprint.app_errorhandler(BodyError)
def _bad_body(error: BodyError) -> ResponseReturnValue:
    """A body or query string that does not match its model: 400 with the place."""
    return refuse(400, str(error))


# How long a client is asked to wait when the storage is full: an agent's own backoff decides
# in the end, a person's script may read it.
STORAGE_FULL_RETRY_AFTER_SECONDS = 60
STORAGE_FULL = "the server's storage is full; nothing was stored, try again later"


@blueprint.app_errorhandler(Exception)
def _storage_full(error: Exception) -> ResponseReturnValue:
    """A full disk (SQLite, PostgreSQL or a file in the data folder) is 503 with Retry-After on
    every route, never a 500: nothing of the request was confirmed, an agent keeps the report
    in its spool and sends it again, and the log says why (server/store/faults.py). Every
    other error goes on to Flask's 500 with its traceback."""
    reason = storage_full(error)
    if reason is None:
        raise error
    log_refusal(503, f"{STORAGE_FULL} ({reason})")
    if request.path.startswith(_API_PATHS):
        response = jsonify({"error": STORAGE_FULL})
    else:
        response = Response(STORAGE_FULL + "\n", mimetype="text/plain")
    response.status_code = 503
    response.headers["Retry-After"] = str(STORAGE_FULL_RETRY_AFTER_SECONDS)
    return response


@blueprint.app_errorhandler(NotFound)
@blueprint.app_errorhandler(MethodNotAllowed)
def _no_such_route(error: HTTPException) -> ResponseReturnValue:
    """Under /api/ a wrong path or method is a JSON refusal like every other; elsewhere (the
    console's own blueprints answer their pages' errors themselves) Werkzeug's page stays."""
    if not request.path.startswith(_API_PATHS):
        return error
    reason = "no such path or item" if isinstance(error, NotFound) else "method not allowed here"
    response = jsonify({"error": reason})
    response.status_code = error.code or 404
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    log_refusal(response.status_code, f"{reason}: {request.method} {request.path}"[:300])
    return response


def make_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of ``app``'s routes; UndocumentedRoute for one without docs."""
    return openapi_document(app)


def api_document(app: Flask) -> dict[str, Any]:
    """The document, made once per app (its routes do not change once it serves)."""
    document = app.extensions.get(_DOCUMENT_KEY)
    if document is None:
        document = app.extensions[_DOCUMENT_KEY] = make_document(app)
    return document


@blueprint.get("/openapi.json")
@documented(
    "This document: OpenAPI 3.1, generated from the routes",
    auth="none",
    tags=["meta"],
    responses={200: dict[str, Any]},
)
def openapi() -> ResponseReturnValue:
    return jsonify(api_document(current_app))


def api_blueprint() -> Blueprint:
    """A new ``/api/v1`` blueprint with this document's view nested in it. One per app: Flask allows
    nesting only before a blueprint is first registered, and tests make many apps."""
    parent = Blueprint("api", __name__, url_prefix=API_PREFIX)
    # A parent's URL value preprocessors run for every nested blueprint's views too.
    parent.url_value_preprocessor(_ids_in_range)
    parent.register_blueprint(blueprint)
    return parent


def nest(app: Flask, child: Blueprint) -> None:
    """Nest a feature's API blueprint under ``/api/v1`` of ``app`` (from its ``install``)."""
    parent = app.extensions.get(EXTENSION_KEY)
    if not isinstance(parent, Blueprint):
        raise RuntimeError("create_app puts the api blueprint in app.extensions first")
    parent.register_blueprint(child)
