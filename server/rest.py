"""What every REST view shares: a typed body or query string in, a typed answer out, and JSON
refusals for the whole ``/api/`` tree (docs/architecture.md, "Bodies and validation").

A view reads its input with :func:`read_body` / :func:`read_query` (the feature's
``schemas.py`` models); a fault raises ``BodyError``, which the ``api`` blueprint turns into
``400 {"error": "place: reason"}`` with the usual refusal log line (``server/api.py``). The
answer goes out through :func:`reply`, which converts it to its response model first: what the
server sends is what ``/api/v1/openapi.json`` says, or the view fails loudly in the tests.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from flask import Response, request
from markupsafe import Markup
from msgspec import Meta

from xunjian.core.schema import (
    Body,
    convert,
    convert_query,
    decode_json,
    encode,
)

T = TypeVar("T")


def read_body(model: type[T], *, optional: bool = False) -> T:
    """The request's JSON body as ``model``. ``optional``: an empty body is ``model()``."""
    data = request.get_data(cache=True)
    if optional and not data.strip():
        return convert({}, model)
    # NUL, lone surrogates, deep nesting and huge integers are refused by the contract's
    # decoding itself (xunjian/core/schema.py), for agent and REST bodies alike.
    return decode_json(data, model)


def read_query(model: type[T]) -> T:
    """The query string as ``model``: unknown names, empty values, bad numbers and NUL
    characters raise."""
    return convert_query(request.args, model)


def reply(model: type[Any], value: Any, status: int = 200) -> Response:
    """``value`` (a ``model`` or the dict of one) as the JSON answer, checked against it."""
    typed = value if isinstance(value, model) else convert(value, model)
    return Response(encode(typed), status=status, mimetype="application/json")


MAX_PAGE = 500
DEFAULT_PAGE = 100
MAX_OFFSET = 10_000_000


class Paging(Body):
    """``?limit=&offset=`` of every paged list."""

    limit: Annotated[int, Meta(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE
    offset: Annotated[int, Meta(ge=0, le=MAX_OFFSET)] = 0


def input_limits(model: type) -> dict[str, Markup]:
    """Each field's bounds as HTML input attributes (``min="5" max="86400"``,
    ``maxlength="200"``), so a console form shows the bounds its model checks without a copy."""
    (_ref, components) = msgspec.json.schema_components([model])
    limits: dict[str, Markup] = {}
    for name, schema in components[model.__name__].get("properties", {}).items():
        for option in schema.get("anyOf", [schema]):
            words = [
                f'{attribute}="{option[key]}"'
                for key, attribute in (
                    ("minimum", "min"),
                    ("maximum", "max"),
                    ("maxLength", "maxlength"),
                )
                if key in option
            ]
            if words:
                limits[name] = Markup(" ".join(words))
                break
    return limits
