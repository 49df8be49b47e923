"""The OpenAPI document describes every /api/v1 route the app registers, with its methods."""

from __future__ import annotations

import re

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


def test_the_agent_paths_are_generated_from_the_contract(server: Server) -> None:
    """The agent API's routes are @documented with xunjian/core/contract/bodies.py's Structs, so
    their part of the document is the schema that really decodes the bodies."""
    from server.apidoc import openapi_document
    from server.openapi import openapi_document as hand_written

    document = openapi_document(server.app, legacy_paths=hand_written()["paths"])
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
