"""The OpenAPI description of ``/api/v1/reports/weekly``, merged into ``server/openapi.py``'s
document. Imports nothing from ``server``."""

from __future__ import annotations

from typing import Any

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_REF}


_FILE = {"schema": {"type": "string", "format": "binary"}}

REPORT_PATHS: dict[str, Any] = {
    "/api/v1/reports/weekly": {
        "get": {
            "summary": "The weekly scan report of one ISO week (POLICY.md A4)",
            "description": (
                "Every host (those that sent nothing listed as such), every check and resource "
                "with its last result of the week, how often it was seen and failed, and its "
                "evidence; failures first, with a summary per group. The newest kept report of "
                "the week is served; a week that is over and has none is generated and kept "
                "now; the running week is generated on the fly and not kept "
                '("complete": false). JSON is signed with Ed25519 (check it offline with '
                "`xunjian report verify`). Admin and auditor tokens only; every download and "
                "refusal is in the operation log (report.export). See docs/reports.md."
            ),
            "security": [{"bearerToken": []}],
            "parameters": [
                {
                    "name": "week",
                    "in": "query",
                    "required": False,
                    "description": "ISO week, e.g. 2026-W47 (default: the last complete week, "
                    "server local time)",
                    "schema": {"type": "string", "pattern": "^[0-9]{4}-W[0-9]{2}$"},
                },
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["csv", "xlsx", "json"], "default": "json"},
                },
            ],
            "responses": {
                "200": {
                    "description": "the report file, as an attachment",
                    "headers": {
                        "Content-Disposition": {"schema": {"type": "string"}},
                        "X-Report-Id": {
                            "description": "the kept report's id (absent for the running week)",
                            "schema": {"type": "string"},
                        },
                        "X-Report-SHA256": {
                            "description": "SHA-256 of the served file",
                            "schema": {"type": "string"},
                        },
                    },
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["report", "signature"],
                                "properties": {
                                    "report": {"type": "object"},
                                    "signature": {
                                        "type": "object",
                                        "required": [
                                            "algorithm",
                                            "key_id",
                                            "public_key",
                                            "report_sha256",
                                            "value",
                                        ],
                                    },
                                },
                            }
                        },
                        "text/csv": _FILE,
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _FILE,
                    },
                },
                "400": _error("week or format malformed, or the week has not begun"),
                "401": _error("missing, unknown or revoked API token"),
                "403": _error("the token's role may not export reports (admin and auditor may)"),
            },
        }
    }
}
