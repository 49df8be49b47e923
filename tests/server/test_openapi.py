"""The OpenAPI document is generated from the routes (server/apidoc.py): every /api/v1 route the
app registers is in it with its methods, a route without @documented fails, and an unknown /api/
path or method answers JSON like every other refusal. tests/integration/test_api_conformance.py
checks the live server's answers against it."""

from __future__ import annotations

import re

import pytest
from flask import Blueprint

from server.api import api_document, make_document
from server.apidoc import UndocumentedRoute
from tests.server.conftest import Server


def registered_api_routes(server: Server) -> set[tuple[str, str]]:
    routes = set()
    for rule in server.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in {"HEAD", "OPTIONS"}:
                routes.add((path, method.lower()))
    return routes


def test_every_api_route_is_documented(server: Server) -> None:
    document = server.client().get("/api/v1/openapi.json").get_json()
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    registered = registered_api_routes(server)
    assert len(registered) >= 9
    assert registered - documented == set()
    # And nothing documented that does not exist.
    assert documented - registered == set()


def test_agent_endpoints_are_part_of_it(server: Server) -> None:
    paths = server.client().get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("enroll", "reports", "policy", "heartbeat", "ca"):
        assert f"/api/v1/agent/{path}" in paths


def test_references_resolve(server: Server) -> None:
    document = server.client().get("/api/v1/openapi.json").get_json()
    text = str(document)
    for name in set(re.findall(r"#/components/schemas/(\w+)", text)):
        assert name in document["components"]["schemas"], name


def test_a_route_without_documented_fails_the_document(server: Server) -> None:
    app = server.app
    extra = Blueprint("undocumented", __name__, url_prefix="/api/v1")
    extra.add_url_rule("/forgotten", "forgotten", lambda: "")
    app.register_blueprint(extra)
    with pytest.raises(UndocumentedRoute, match="/api/v1/forgotten"):
        make_document(app)


def test_the_document_is_made_once_per_app(server: Server) -> None:
    assert api_document(server.app) is api_document(server.app)


def test_every_rest_operation_names_its_answers_and_refusals(server: Server) -> None:
    document = server.client().get("/api/v1/openapi.json").get_json()
    for path, operations in document["paths"].items():
        if path.startswith("/api/v1/agent/") or path == "/api/v1/openapi.json":
            continue
        for method, operation in operations.items():
            assert operation["security"] == [{"bearerToken": []}], (path, method)
            assert "401" in operation["responses"], (path, method)
            if "requestBody" in operation or any(
                parameter["in"] == "query" for parameter in operation.get("parameters", [])
            ):
                assert "400" in operation["responses"], (path, method)


def test_bodies_refuse_unknown_keys_and_bound_their_fields(server: Server) -> None:
    schemas = server.client().get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    for name in ("NewMonitor", "MonitorSettings", "NewDevice", "Watch", "NewComment"):
        assert schemas[name]["additionalProperties"] is False, name
        for field, schema in schemas[name]["properties"].items():
            options = schema.get("anyOf", [schema])
            for option in options:
                if option.get("type") == "string" and "enum" not in option:
                    assert "maxLength" in option or "pattern" in option, (name, field)
                if option.get("type") == "integer":
                    assert "maximum" in option, (name, field)
                if option.get("type") == "array":
                    assert "maxItems" in option, (name, field)


def test_an_empty_week_is_refused_not_defaulted(server: Server) -> None:
    from tests.server.test_api import api_token, bearer

    answer = server.client().get("/api/v1/reports/weekly?week=", headers=bearer(api_token(server)))
    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith("week: ")


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/no-such-thing", 404),
        ("get", "/api/v2/hosts", 404),
        ("get", "/api/v1/alerts/not-a-number/ack", 404),
        ("get", "/api/v1/monitors/99999999999999999999999", 404),
        ("get", "/api/v1/monitors/2147483648", 404),
        ("delete", "/api/v1/hosts", 405),
        ("put", "/api/v1/openapi.json", 405),
    ],
)
def test_unknown_api_paths_and_methods_answer_json(
    server: Server, method: str, path: str, status: int
) -> None:
    from tests.server.test_api import api_token, bearer

    answer = getattr(server.client(), method)(path, headers=bearer(api_token(server)))
    assert answer.status_code == status
    assert answer.mimetype == "application/json"
    assert answer.get_json()["error"]
    if status == 405:
        assert "GET" in answer.headers["Allow"]


def test_unknown_console_paths_keep_the_html_page(server: Server) -> None:
    answer = server.client().get("/no-such-page")
    assert answer.status_code == 404
    assert answer.mimetype == "text/html"


def test_the_agent_paths_are_generated_from_the_contract(server: Server) -> None:
    """The agent API's routes are @documented with xunjian/core/contract/bodies.py's Structs, so
    their part of the document is the schema that really decodes the bodies."""
    document = make_document(server.app)
    paths, schemas = document["paths"], document["components"]["schemas"]
    body = paths["/api/v1/agent/reports"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/Report"}
    assert set(paths["/api/v1/agent/monitor-outcomes"]["post"]["responses"]) >= {
        "200",
        "400",
        "401",
        "403",
        "413",
    }
    result = schemas["Result"]
    assert result["additionalProperties"] is False
    assert result["properties"]["resource"]["maxLength"] == 200
    assert schemas["Report"]["properties"]["results"]["maxItems"] == 2000
    assert "file_events" in schemas["Report"]["properties"]
