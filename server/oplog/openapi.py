"""The OpenAPI description of ``GET /api/v1/oplog``, merged into ``server/openapi.py``'s
document (``**OPLOG_PATHS`` in its paths, ``**OPLOG_SCHEMAS`` in its schemas). Imports nothing
from ``server``, so that module can import it freely."""

from __future__ import annotations

from typing import Any

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_REF}


_HASH = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

OPLOG_SCHEMAS: dict[str, Any] = {
    "OplogEntry": {
        "type": "object",
        "description": (
            "One entry, every hashed field exactly as stored: hash = SHA-256 of the compact "
            'JSON array ["xunjian-oplog-v1", seq, at (without Z), actor, role, action, target, '
            "outcome, reason, client_address, client_port, details, prev_hash] (UTF-8)"
        ),
        "properties": {
            "seq": {"type": "integer"},
            "at": {"type": "string", "format": "date-time"},
            "actor": {"type": "string", "description": 'user name, "agent:<id>", "anonymous"'},
            "role": {"type": "string"},
            "action": {"type": "string", "examples": ["console.login", "api.command.create"]},
            "target": {"type": "string"},
            "outcome": {"enum": ["ok", "refused", "error"]},
            "reason": {"type": "string"},
            "client_address": {"type": "string"},
            "client_port": {"type": ["integer", "null"]},
            "details": {"type": "string", "description": "canonical JSON text, as hashed"},
            "prev_hash": _HASH,
            "hash": _HASH,
        },
    },
    "OplogPage": {
        "type": "object",
        "properties": {
            "entries": {"type": "array", "items": {"$ref": "#/components/schemas/OplogEntry"}},
            "next_after": {"type": "integer", "description": "pass as after= for the next page"},
            "head": {
                "type": ["object", "null"],
                "properties": {"seq": {"type": "integer"}, "hash": _HASH},
            },
            "checkpoint": {
                "type": ["object", "null"],
                "description": "the newest Ed25519-signed checkpoint (oplog-signing.pub)",
            },
        },
    },
}

OPLOG_PATHS: dict[str, Any] = {
    "/api/v1/oplog": {
        "get": {
            "summary": "Operation log entries, oldest first (admin and auditor tokens); "
            "each read is itself logged",
            "tags": ["audit"],
            "security": [{"bearerToken": []}],
            "parameters": [
                {
                    "name": "after",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 0, "default": 0},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                },
            ],
            "responses": {
                "200": {
                    "description": "entries after `after`, the chain head, the newest checkpoint",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/OplogPage"}}
                    },
                },
                "400": _error("limit or after out of range"),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("the token's role may not read the log"),
            },
        }
    }
}
