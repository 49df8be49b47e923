"""The OpenAPI 3.1 description of the whole HTTP API, agent endpoints included.

Written by hand next to the code it describes; ``tests/server/test_openapi.py`` fails when a
registered ``/api/v1`` route is missing here, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from server.alerts.openapi import ALERT_PATHS, ALERT_SCHEMAS
from server.devices.openapi import DEVICE_PATHS
from server.files.openapi import FILE_PATHS, FILE_SCHEMAS
from server.monitors.openapi import MONITOR_PATHS
from server.oplog.openapi import OPLOG_PATHS, OPLOG_SCHEMAS
from server.reports.openapi import REPORT_PATHS
from xunjian import __version__

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_SIGNED = [{"agentSignature": []}]
_BEARER = [{"bearerToken": []}]
_AGENT_REFUSALS = {
    "400": _error("the body is not JSON or does not match the schema; the reason is given"),
    "401": _error("bad or missing signature, unknown or revoked agent, stale send time"),
    "413": _error("the body is over the size limit (default 2 MiB)"),
}
_HOST_ID = {"name": "host_id", "in": "path", "required": True, "schema": {"type": "string"}}

_RESULT = {
    "type": "object",
    "required": ["check_id", "status", "resource", "message", "severity"],
    "additionalProperties": False,
    "properties": {
        "check_id": {"type": "string", "maxLength": 128},
        "status": {"enum": ["pass", "fail", "error", "not_applicable", "no_privilege"]},
        "resource": {"type": "string", "maxLength": 200},
        "message": {"type": "string", "maxLength": 1000},
        "severity": {"enum": ["info", "low", "medium", "high", "critical"]},
        "evidence": {"type": "object", "description": "at most 16 KiB encoded"},
        "rules": {"type": "array", "items": {"type": "string"}, "maxItems": 32},
    },
}

_REPORT = {
    "type": "object",
    "required": ["agent_id", "epoch", "seq", "kind", "created_at", "results"],
    "additionalProperties": False,
    "properties": {
        "agent_id": {"type": "string", "format": "uuid"},
        "epoch": {"type": "integer", "minimum": 0},
        "seq": {"type": "integer", "minimum": 0},
        "kind": {"type": "string", "maxLength": 32},
        "created_at": {"type": "string", "format": "date-time"},
        "policy_version": {"type": ["integer", "null"]},
        "results": {"type": "array", "items": _ref("Result"), "maxItems": 2000},
        "inventory": {"type": ["object", "null"]},
        "gaps": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "object",
                "required": ["from_seq", "to_seq", "reason"],
                "properties": {
                    "from_seq": {"type": "integer"},
                    "to_seq": {"type": "integer"},
                    "reason": {"type": "string", "maxLength": 200},
                },
            },
        },
    },
}

_ENROLL = {
    "type": "object",
    "required": ["token", "public_key", "hostname", "platform"],
    "additionalProperties": False,
    "properties": {
        "token": {"type": "string"},
        "public_key": {"type": "string", "description": "base64 of the raw 32-byte Ed25519 key"},
        "hostname": {"type": "string", "maxLength": 255, "description": "a label, not identity"},
        "platform": {"type": "string", "maxLength": 32},
        "os": {"type": "string", "maxLength": 255},
        "agent_version": {"type": "string", "maxLength": 32},
    },
}

_HEARTBEAT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "spool_depth": {"type": ["integer", "null"]},
        "last_seq": {"type": ["integer", "null"]},
        "epoch": {"type": ["integer", "null"]},
        "policy_version": {"type": ["integer", "null"]},
        "acked_commands": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
    },
}

_COMMAND = {
    "type": "object",
    "required": ["id", "type"],
    "properties": {"id": {"type": "string", "format": "uuid"}, "type": {"enum": ["scan_now"]}},
}

_HOST = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "hostname": {"type": "string"},
        "group": {"type": "string"},
        "os": {"type": "string"},
        "platform": {"type": "string"},
        "online": {
            "type": "boolean",
            "description": "seen within 3 heartbeat intervals; always false for a network "
            "device (platform device), which sends no heartbeats",
        },
        "last_seen": {"type": ["string", "null"], "format": "date-time"},
        "revoked": {"type": "boolean"},
        "failing": {"type": "integer", "description": "latest results with status fail"},
    },
}

_POLICY = {
    "type": "object",
    "required": ["version", "group", "checks", "schedules", "approved"],
    "properties": {
        "version": {"type": "integer"},
        "group": {"type": "string"},
        "checks": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"enabled": {"type": "boolean"}, "params": {"type": "object"}},
            },
        },
        "schedules": {
            "type": "object",
            "properties": {
                "scan_interval_seconds": {"type": "integer"},
                "heartbeat_interval_seconds": {"type": "integer"},
            },
        },
        "approved": {
            "type": "object",
            "properties": {
                "users": {"type": "array", "items": {"type": "string"}},
                "software": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/agent/ca": {
            "get": {
                "summary": "The CA certificate (PEM); the agent pins its SHA-256 at enrollment",
                "tags": ["agent"],
                "security": [],
                "responses": {
                    "200": {
                        "description": "PEM",
                        "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/api/v1/agent/enroll": {
            "post": {
                "summary": "Trade an enrollment token for an agent identity",
                "tags": ["agent"],
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Enroll")}},
                },
                "responses": {
                    "201": _json(
                        "enrolled",
                        {
                            "type": "object",
                            "properties": {
                                "agent_id": {"type": "string", "format": "uuid"},
                                "group": {"type": "string"},
                            },
                        },
                    ),
                    "400": _AGENT_REFUSALS["400"],
                    "401": _error("unknown, expired or used-up token"),
                    "413": _AGENT_REFUSALS["413"],
                },
            }
        },
        "/api/v1/agent/reports": {
            "post": {
                "summary": "Store a report once per (agent_id, epoch, seq)",
                "tags": ["agent"],
                "security": _SIGNED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Report")}},
                },
                "responses": {
                    "200": _json(
                        "stored, or already stored (duplicate: true)",
                        {
                            "type": "object",
                            "properties": {
                                "stored": {"type": "boolean"},
                                "duplicate": {"type": "boolean"},
                            },
                        },
                    ),
                    **_AGENT_REFUSALS,
                },
            }
        },
        "/api/v1/agent/policy": {
            "get": {
                "summary": "The policy of the agent's group",
                "tags": ["agent"],
                "security": _SIGNED,
                "responses": {"200": _json("policy", _ref("Policy")), **_AGENT_REFUSALS},
            }
        },
        "/api/v1/agent/heartbeat": {
            "post": {
                "summary": "Report liveness; receive pending commands, acknowledge done ones",
                "tags": ["agent"],
                "security": _SIGNED,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("Heartbeat")}},
                },
                "responses": {
                    "200": _json(
                        "policy version and pending commands",
                        {
                            "type": "object",
                            "properties": {
                                "policy_version": {"type": "integer"},
                                "commands": {"type": "array", "items": _ref("Command")},
                            },
                        },
                    ),
                    **_AGENT_REFUSALS,
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "tags": ["meta"],
                "security": [],
                "responses": {"200": _json("OpenAPI 3.1", {"type": "object"})},
            }
        },
        "/api/v1/hosts": {
            "get": {
                "summary": "Enrolled hosts with their online state and failing check count",
                "tags": ["hosts"],
                "security": _BEARER,
                "parameters": [
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
                        "a page of hosts",
                        {
                            "type": "object",
                            "properties": {
                                "hosts": {"type": "array", "items": _ref("Host")},
                                "total": {"type": "integer"},
                                "limit": {"type": "integer"},
                                "offset": {"type": "integer"},
                            },
                        },
                    ),
                    "400": _error("limit or offset out of range"),
                    "401": _error("missing, unknown or revoked API token"),
                },
            }
        },
        "/api/v1/hosts/{host_id}/results": {
            "get": {
                "summary": "A host's latest result per check and resource, and its inventory",
                "tags": ["hosts"],
                "security": _BEARER,
                "parameters": [_HOST_ID],
                "responses": {
                    "200": _json(
                        "latest results",
                        {
                            "type": "object",
                            "properties": {
                                "host": _ref("Host"),
                                "results": {"type": "array", "items": _ref("Result")},
                                "inventory": {"type": ["object", "null"]},
                            },
                        },
                    ),
                    "401": _error("missing, unknown or revoked API token"),
                    "404": _error("no such host"),
                },
            }
        },
        "/api/v1/hosts/{host_id}/commands": {
            "post": {
                "summary": "Queue a command for a host (admin and operator tokens)",
                "tags": ["hosts"],
                "security": _BEARER,
                "parameters": [_HOST_ID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["type"],
                                "properties": {"type": {"enum": ["scan_now"]}},
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json("queued", _ref("Command")),
                    "400": _error("unknown command type"),
                    "401": _error("missing, unknown or revoked API token"),
                    "403": _error("the token's role may not queue commands"),
                    "404": _error("no such host"),
                    "409": _error("the host is revoked"),
                },
            }
        },
        **OPLOG_PATHS,
        **REPORT_PATHS,
        **ALERT_PATHS,
        **FILE_PATHS,
        **MONITOR_PATHS,
        **DEVICE_PATHS,
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "xunjian (巡检) server API", "version": __version__},
        "paths": _paths(),
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
            "schemas": {
                "Error": _ERROR,
                "Result": _RESULT,
                "Report": _REPORT,
                "Enroll": _ENROLL,
                "Heartbeat": _HEARTBEAT,
                "Command": _COMMAND,
                "Host": _HOST,
                "Policy": _POLICY,
                **OPLOG_SCHEMAS,
                **ALERT_SCHEMAS,
                **FILE_SCHEMAS,
            },
        },
    }
