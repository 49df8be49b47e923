"""The OpenAPI description of ``/api/v1/file-events`` and ``/api/v1/groups/{name}/watch``,
merged into ``server/openapi.py``'s document. Imports nothing from ``server``."""

from __future__ import annotations

from typing import Any

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_BEARER = [{"bearerToken": []}]
_TIME = {"type": ["string", "null"], "format": "date-time"}
_GROUP = {"name": "group_name", "in": "path", "required": True, "schema": {"type": "string"}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_REF}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


FILE_SCHEMAS: dict[str, Any] = {
    "FileEvent": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "host": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "hostname": {"type": ["string", "null"]}},
            },
            "action": {
                "enum": [
                    "created",
                    "modified",
                    "deleted",
                    "moved",
                    "summary",
                    "folder_missing",
                    "folder_back",
                ]
            },
            "path": {"type": "string"},
            "from_path": {"type": ["string", "null"], "description": "moved: where it was"},
            "folder": {"type": "string"},
            "folder_kind": {"enum": ["web_root", "upload"]},
            "sha256": {"type": ["string", "null"]},
            "size": {"type": ["integer", "null"]},
            "owner": {"type": ["string", "null"]},
            "mtime": _TIME,
            "observed_at": {"type": "string", "format": "date-time"},
            "received_at": {"type": "string", "format": "date-time"},
            "count": {"type": ["integer", "null"], "description": "summary: events folded in"},
            "summarised_action": {"type": ["string", "null"]},
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "kind": {"enum": ["webshell", "sensitive_word"]},
                        "rule": {"type": "string"},
                    },
                },
            },
        },
    },
    "WatchSettings": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "folders": {
                "type": "array",
                "maxItems": 50,
                "items": {
                    "type": "object",
                    "required": ["path", "kind"],
                    "additionalProperties": False,
                    "properties": {
                        "path": {"type": "string", "maxLength": 1024},
                        "kind": {"enum": ["web_root", "upload"]},
                    },
                },
            },
            "sensitive_words": {
                "type": "array",
                "maxItems": 500,
                "items": {"type": "string", "maxLength": 100},
            },
        },
    },
}

FILE_PATHS: dict[str, Any] = {
    "/api/v1/file-events": {
        "get": {
            "summary": "File events reported by the agents' watchers, newest first",
            "security": _BEARER,
            "parameters": [
                {"name": "host", "in": "query", "schema": {"type": "string"}},
                {"name": "findings", "in": "query", "schema": {"enum": ["only"]}},
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                },
                {"name": "before", "in": "query", "schema": {"type": "integer"}},
            ],
            "responses": {
                "200": _json(
                    "a page of events; pass next_before as before for the next",
                    {
                        "type": "object",
                        "properties": {
                            "events": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/FileEvent"},
                            },
                            "next_before": {"type": ["integer", "null"]},
                        },
                    },
                ),
                "400": _error("a bad parameter"),
                "401": _error("no valid token"),
            },
        }
    },
    "/api/v1/groups/{group_name}/watch": {
        "get": {
            "summary": "A group's watched folders and sensitive words",
            "security": _BEARER,
            "parameters": [_GROUP],
            "responses": {
                "200": _json("the settings", {"$ref": "#/components/schemas/WatchSettings"}),
                "401": _error("no valid token"),
                "404": _error("no such group"),
            },
        },
        "put": {
            "summary": "Replace a group's watched folders and sensitive words (admin)",
            "security": _BEARER,
            "parameters": [_GROUP],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/WatchSettings"}}
                },
            },
            "responses": {
                "200": _json("stored; agents fetch it with the new policy version", {}),
                "400": _error("invalid settings; the entry is named"),
                "401": _error("no valid token"),
                "403": _error("not an admin"),
                "404": _error("no such group"),
            },
        },
    },
}
