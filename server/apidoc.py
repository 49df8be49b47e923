"""The OpenAPI 3.1 document of every ``/api/`` route, generated from the routes themselves.

A view says what it takes and answers with :func:`documented` (its body, query and response
models are the msgspec Structs that also validate them, see ``xunjian/core/schema.py``);
:func:`openapi_document` walks the app's URL map, so a route is in the document because it
exists, with the schema that really checks it. A route under ``/api/`` without ``documented``
raises :class:`UndocumentedRoute`, which ``tests/server/test_openapi.py`` turns into a failure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import msgspec
from flask import Flask

from xunjian import __version__
from xunjian.core.schema import Body

Auth = Literal["none", "agent", "bearer"]
Answer = type | str | None | Mapping[str, type | None]
F = TypeVar("F", bound=Callable[..., Any])

REF_TEMPLATE = "#/components/schemas/{name}"
ATTRIBUTE = "openapi_operation"
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
_PATH_ARGUMENT = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
# The largest ``<int:...>`` id in a path: PostgreSQL's INTEGER (monitor, device, proposal ids)
# ends there, and a larger one would be a database error, not a 404; server/api.py answers 404
# above it. (Alert ids are BIGINT, but two billion alerts are not a real deployment.)
MAX_PATH_ID = 2**31 - 1
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer", "minimum": 0, "maximum": MAX_PATH_ID},
    "uuid": {"type": "string", "format": "uuid"},
}


class Error(Body):
    """Every refusal: a 4xx with the reason (for a 400, ``place: reason``)."""

    error: str


THROTTLED = "too many failed authentications from this address in a minute (see Retry-After)"
# What the server answers without being asked, per kind of route.
_AUTH_REFUSALS: dict[str, dict[int, str]] = {
    "none": {},
    "agent": {
        401: "bad or missing signature, unknown or revoked agent, stale send time",
        429: THROTTLED,
    },
    "bearer": {401: "no, unknown or revoked API token"},
}


@dataclass(frozen=True)
class Operation:
    """What ``documented`` records on a view function."""

    summary: str
    auth: Auth
    tags: tuple[str, ...]
    body: type | None
    query: type | None
    # status -> the model of a JSON answer, a media type string for another answer (CSV,
    # PEM...), None for an answer without a body, or {media type: model or None} for an
    # answer in one of several formats (None: not JSON, a string or bytes).
    responses: Mapping[int, Answer]
    errors: Mapping[int, str] = field(default_factory=dict)
    description: str = ""
    raw_body: str | None = None  # the media type of a body that is bytes (not a model)


class UndocumentedRoute(LookupError):
    """An ``/api/`` route whose view has no :func:`documented`."""


def documented(
    summary: str,
    *,
    auth: Auth,
    tags: Iterable[str] = (),
    body: type | None = None,
    query: type | None = None,
    responses: Mapping[int, Answer],
    errors: Mapping[int, str] | None = None,
    description: str = "",
    raw_body: str | None = None,
) -> Callable[[F], F]:
    """Describe a view for the document; put it below ``@blueprint.route`` (any order works).
    ``raw_body``: the media type of a body that is bytes, not JSON (an evidence chunk)."""
    operation = Operation(
        summary=summary,
        auth=auth,
        tags=tuple(tags),
        body=body,
        raw_body=raw_body,
        query=query,
        responses=dict(responses),
        errors=dict(errors or {}),
        description=description,
    )

    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, operation)
        return view

    return mark


def _json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


class _Models:
    """Every model the document names, turned into components once at the end."""

    def __init__(self) -> None:
        self.models: list[type] = [Error]

    def ref(self, model: Any) -> dict[str, Any]:
        """A reference to a named model (a Struct); any other type (``dict[str, Any]``...)
        is described in place."""
        if not (isinstance(model, type) and issubclass(model, msgspec.Struct)):
            return msgspec.json.schema(model)
        if model not in self.models:
            self.models.append(model)
        return {"$ref": REF_TEMPLATE.format(name=model.__name__)}

    def components(self) -> dict[str, Any]:
        names = [model.__name__ for model in self.models]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"two models share a name in the API document: {duplicated}")
        _, components = msgspec.json.schema_components(self.models, ref_template=REF_TEMPLATE)
        return components


def _query_parameters(model: type) -> list[dict[str, Any]]:
    (schema,), components = msgspec.json.schema_components([model], ref_template=REF_TEMPLATE)
    definition = components[model.__name__] if "$ref" in schema else schema
    required = set(definition.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in definition.get("properties", {}).items()
    ]


def _response(models: _Models, status: int, answer: Answer) -> dict[str, Any]:
    description = "OK" if status < 300 else "see the error"
    if answer is None:
        return {"description": description}
    if isinstance(answer, str):
        return {"description": description, "content": {answer: {"schema": {"type": "string"}}}}
    if isinstance(answer, Mapping):
        content = {
            media: {"schema": {"type": "string"} if model is None else models.ref(model)}
            for media, model in answer.items()
        }
        return {"description": description, "content": content}
    return {"description": description, "content": _json_content(models.ref(answer))}


def _operation(
    models: _Models, operation: Operation, path_arguments: list[dict[str, Any]]
) -> dict[str, Any]:
    document: dict[str, Any] = {"summary": operation.summary}
    if operation.description:
        document["description"] = operation.description
    if operation.tags:
        document["tags"] = list(operation.tags)
    if operation.auth == "agent":
        document["security"] = [{"agentSignature": []}]
    elif operation.auth == "bearer":
        document["security"] = [{"bearerToken": []}]
    parameters = list(path_arguments)
    if operation.query is not None:
        parameters += _query_parameters(operation.query)
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": _json_content(models.ref(operation.body)),
        }
    elif operation.raw_body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {operation.raw_body: {"schema": {"type": "string", "format": "binary"}}},
        }
    responses = {
        str(status): _response(models, status, answer)
        for status, answer in operation.responses.items()
    }
    refusals: dict[int, str] = dict(_AUTH_REFUSALS[operation.auth])
    if operation.body is not None or operation.query is not None:
        refusals[400] = "the body or query does not match the schema; the place is named"
    if operation.body is not None or operation.raw_body is not None:
        refusals[413] = "the body is over the size limit"
    if path_arguments:
        refusals[404] = "no such item"
    refusals.update(operation.errors)
    for status, reason in sorted(refusals.items()):
        responses.setdefault(
            str(status),
            {"description": reason, "content": _json_content(models.ref(Error))},
        )
    document["responses"] = responses
    return document


def _openapi_path(rule: str) -> tuple[str, list[dict[str, Any]]]:
    arguments: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        schema = _CONVERTER_SCHEMAS.get(match.group("converter") or "", {"type": "string"})
        arguments.append(
            {"name": match.group("name"), "in": "path", "required": True, "schema": schema}
        )
        return "{" + match.group("name") + "}"

    return _PATH_ARGUMENT.sub(replace, rule), arguments


def openapi_document(app: Flask) -> dict[str, Any]:
    """The whole document; raises UndocumentedRoute for an ``/api/`` route without docs."""
    models = _Models()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule):
        if not rule.rule.startswith("/api/"):
            continue
        view = app.view_functions[rule.endpoint]
        operation = getattr(view, ATTRIBUTE, None)
        path, arguments = _openapi_path(rule.rule)
        if operation is None:
            raise UndocumentedRoute(f"{rule.rule} ({rule.endpoint}) has no @documented")
        for method in sorted((rule.methods or set()) - _IGNORED_METHODS):
            paths.setdefault(path, {})[method.lower()] = _operation(models, operation, arguments)
    return {
        "openapi": "3.1.0",
        "info": {"title": "xunjian (巡检) server API", "version": __version__},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer"},
                "agentSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Xunjian-Signature",
                    "description": (
                        "Ed25519 over xunjian-v1\\nMETHOD\\nPATH?QUERY\\nAGENT_ID\\nTIME\\n"
                        "SHA256(body), with X-Xunjian-Agent and X-Xunjian-Time headers "
                        "(see xunjian/core/wire.py)"
                    ),
                },
            },
            "schemas": models.components(),
        },
    }
