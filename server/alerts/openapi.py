"""The OpenAPI description of ``/api/v1/alerts``, merged into ``server/openapi.py``'s document
like the operation log's. Imports nothing from ``server``."""

from __future__ import annotations

from typing import Any

from server.alerts.models import KINDS

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_BEARER = [{"bearerToken": []}]
_ALERT_ID = {"name": "alert_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TIME = {"type": ["string", "null"], "format": "date-time"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_REF}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_COMMENT = {
    "type": "object",
    "properties": {
        "at": {"type": "string", "format": "date-time"},
        "author": {"type": "string"},
        "text": {"type": "string"},
    },
}

ALERT_SCHEMAS: dict[str, Any] = {
    "AlertComment": _COMMENT,
    "Alert": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "kind": {"enum": list(KINDS)},
            "severity": {"enum": ["info", "low", "medium", "high", "critical"]},
            "status": {"enum": ["open", "acknowledged", "resolved"]},
            "subject": {"type": "string", "description": "hostname / check / resource"},
            "host": {
                "type": ["object", "null"],
                "properties": {"id": {"type": "string"}, "hostname": {"type": ["string", "null"]}},
            },
            "monitor": {
                "type": ["object", "null"],
                "description": "for page monitor alerts (kinds down, slow, cert, tamper)",
                "properties": {"id": {"type": "integer"}, "url": {"type": "string"}},
            },
            "check_id": {"type": ["string", "null"]},
            "resource": {"type": ["string", "null"]},
            "message": {"type": "string"},
            "opened_at": {"type": "string", "format": "date-time"},
            "acknowledged_by": {"type": ["string", "null"]},
            "acknowledged_at": _TIME,
            "resolved_by": {
                "type": ["string", "null"],
                "description": "null with resolved_at set: resolved by the server",
            },
            "resolved_at": _TIME,
            "comments": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/AlertComment"},
            },
        },
    },
}

_CHANGE_BODY = {
    "required": False,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"comment": {"type": "string", "maxLength": 2000}},
            }
        }
    },
}


def _change(summary: str, conflict: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "tags": ["alerts"],
            "security": _BEARER,
            "parameters": [_ALERT_ID],
            "requestBody": _CHANGE_BODY,
            "responses": {
                "200": _json("the alert", {"$ref": "#/components/schemas/Alert"}),
                "400": _error('the body is not empty, {} or {"comment": text}'),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("auditor tokens may not change alerts"),
                "404": _error("no such alert"),
                "409": _error(conflict),
            },
        }
    }


ALERT_PATHS: dict[str, Any] = {
    "/api/v1/alerts": {
        "get": {
            "summary": "Alerts, newest first, optionally by status (any role)",
            "tags": ["alerts"],
            "security": _BEARER,
            "parameters": [
                {
                    "name": "status",
                    "in": "query",
                    "schema": {"enum": ["open", "acknowledged", "resolved"]},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
                },
                {
                    "name": "offset",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 0, "default": 0},
                },
            ],
            "responses": {
                "200": _json(
                    "a page of alerts",
                    {
                        "type": "object",
                        "properties": {
                            "alerts": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Alert"},
                            },
                            "total": {"type": "integer"},
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                        },
                    },
                ),
                "400": _error("unknown status, or limit or offset out of range"),
                "401": _error("missing, unknown or revoked API token"),
            },
        }
    },
    "/api/v1/alerts/{alert_id}/ack": _change(
        "Acknowledge an alert (admin and operator); the first acknowledgement is kept",
        "the alert is resolved already",
    ),
    "/api/v1/alerts/{alert_id}/resolve": _change(
        "Resolve an alert by hand (admin and operator)", "the alert is resolved already"
    ),
    "/api/v1/alerts/{alert_id}/comment": {
        "post": {
            "summary": "Comment on an alert (admin and operator)",
            "tags": ["alerts"],
            "security": _BEARER,
            "parameters": [_ALERT_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["text"],
                            "additionalProperties": False,
                            "properties": {"text": {"type": "string", "maxLength": 2000}},
                        }
                    }
                },
            },
            "responses": {
                "201": _json("the comment", {"$ref": "#/components/schemas/AlertComment"}),
                "400": _error('the body is not {"text": text}'),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("auditor tokens may not comment"),
                "404": _error("no such alert"),
            },
        }
    },
}
