"""The OpenAPI description of ``/api/v1/devices``, merged into ``server/openapi.py``'s
document. Schemas are inline (no components), so the merge is one line. Imports nothing from
``server``."""

from __future__ import annotations

from typing import Any

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_BEARER = [{"bearerToken": []}]
_DEVICE_ID = {"name": "device_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_TYPES = ["router", "ap", "nas", "switch", "linux"]
_OUTCOMES = [
    "default_credential",
    "no_default",
    "no_password_auth",
    "lockout",
    "unreachable",
    "error",
]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_REF}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


DEVICE = {
    "type": "object",
    "description": "a device and its last check; never the password",
    "properties": {
        "id": {"type": "integer"},
        "host_id": {"type": "string", "description": "its row in /api/v1/hosts (results)"},
        "address": {"type": "string"},
        "port": {"type": "integer"},
        "type": {"enum": _TYPES},
        "label": {"type": "string"},
        "key_user": {"type": "string"},
        "authorised_by": {"type": "string"},
        "authorisation": {"type": "string"},
        "added_by": {"type": "string"},
        "added_at": {"type": "string", "format": "date-time"},
        "due_at": _TIME,
        "last_checked_at": _TIME,
        "last_outcome": {"enum": [*_OUTCOMES, None]},
        "last_message": {"type": "string"},
        "last_attempts": {"type": "integer", "description": "password attempts at the last check"},
        "auth_methods": {"type": ["array", "null"], "items": {"type": "string"}},
        "org_key_accepted": {"type": ["boolean", "null"]},
        "default_credential_user": {
            "type": ["string", "null"],
            "description": "the user whose vendor-default password was accepted",
        },
    },
}

_NEW_DEVICE = {
    "type": "object",
    "required": ["address", "type", "authorised_by", "authorisation"],
    "additionalProperties": False,
    "properties": {
        "address": {"type": "string", "description": "IP address or host name"},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 22},
        "type": {"enum": _TYPES},
        "label": {"type": "string", "maxLength": 100},
        "key_user": {"type": "string", "maxLength": 32, "default": "root"},
        "authorised_by": {"type": "string", "maxLength": 64},
        "authorisation": {
            "type": "string",
            "minLength": 10,
            "maxLength": 1000,
            "description": "that the organisation owns the device and allows these checks",
        },
    },
}

DEVICE_PATHS: dict[str, Any] = {
    "/api/v1/devices": {
        "get": {
            "summary": "Devices with their last check (any role; never a password)",
            "tags": ["devices"],
            "security": _BEARER,
            "responses": {
                "200": _json(
                    "every device",
                    {
                        "type": "object",
                        "properties": {
                            "devices": {"type": "array", "items": DEVICE},
                            "total": {"type": "integer"},
                        },
                    },
                ),
                "401": _error("missing, unknown or revoked API token"),
            },
        },
        "post": {
            "summary": "Add a device with the authorisation to check it (admin)",
            "tags": ["devices"],
            "security": _BEARER,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _NEW_DEVICE}},
            },
            "responses": {
                "201": _json("the device, due for its first check", DEVICE),
                "400": _error("a field is missing, unknown or invalid; the reason is given"),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("only admin tokens may add devices"),
                "409": _error("that address and port is a device already"),
            },
        },
    },
    "/api/v1/devices/{device_id}": {
        "delete": {
            "summary": "Remove a device with its results and alerts (admin)",
            "tags": ["devices"],
            "security": _BEARER,
            "parameters": [_DEVICE_ID],
            "responses": {
                "200": _json(
                    "removed",
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "address": {"type": "string"},
                            "port": {"type": "integer"},
                            "removed": {"type": "boolean"},
                        },
                    },
                ),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("only admin tokens may remove devices"),
                "404": _error("no such device"),
            },
        }
    },
    "/api/v1/devices/{device_id}/check": {
        "post": {
            "summary": "Make a device due now for the server's next device sweep "
            "(admin and operator)",
            "tags": ["devices"],
            "security": _BEARER,
            "parameters": [_DEVICE_ID],
            "responses": {
                "202": _json(
                    "due; checked within about within_seconds",
                    {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "due": {"type": "boolean"},
                            "within_seconds": {"type": "integer"},
                        },
                    },
                ),
                "400": _error("the body is not empty or {}"),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("auditor tokens may not start checks"),
                "404": _error("no such device"),
            },
        }
    },
    "/api/v1/devices/{device_id}/credential": {
        "get": {
            "summary": "The vendor-default credential found on a device (admin only; each "
            "view is recorded in the operation log)",
            "tags": ["devices"],
            "security": _BEARER,
            "parameters": [_DEVICE_ID],
            "responses": {
                "200": _json(
                    "the credential",
                    {
                        "type": "object",
                        "properties": {
                            "device_id": {"type": "integer"},
                            "user": {"type": "string"},
                            "password": {"type": "string"},
                            "found_at": _TIME,
                        },
                    },
                ),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("only admin tokens see credentials"),
                "404": _error("no such device, or no credential found on it"),
                "500": _error("the stored credential cannot be decrypted"),
            },
        }
    },
}
