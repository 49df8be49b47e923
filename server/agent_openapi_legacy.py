"""TRANSITIONAL (issue 10): the hand-written OpenAPI path items of the AGENT routes
(``/api/v1/agent/...``), moved here unchanged from the deleted server/openapi.py and
server/monitors/openapi.py, so ``/api/v1/openapi.json`` stays whole while those routes have no
``@documented`` yet. server/api.py passes them to ``openapi_document`` as ``legacy_paths``.
Delete this module once the agent routes are documented from their schemas (helper
"contract"); nothing else may import it. ``#/components/schemas/Error`` is the generated
``Error`` model of server/apidoc.py.
"""

from __future__ import annotations

from typing import Any

AGENT_PATHS: dict[str, Any] = {
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
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Enroll"}}
                },
            },
            "responses": {
                "201": {
                    "description": "enrolled",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "agent_id": {"type": "string", "format": "uuid"},
                                    "group": {"type": "string"},
                                },
                            }
                        }
                    },
                },
                "400": {
                    "description": "the body is not JSON or "
                    "does not match the "
                    "schema; the reason is "
                    "given",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "401": {
                    "description": "unknown, expired or used-up token",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "413": {
                    "description": "the body is over the size limit (default 2 MiB)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    },
    "/api/v1/agent/reports": {
        "post": {
            "summary": "Store a report once per (agent_id, epoch, seq)",
            "tags": ["agent"],
            "security": [{"agentSignature": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Report"}}
                },
            },
            "responses": {
                "200": {
                    "description": "stored, or already stored (duplicate: true)",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "stored": {"type": "boolean"},
                                    "duplicate": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                "400": {
                    "description": "the body is not JSON or "
                    "does not match the "
                    "schema; the reason is "
                    "given",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "401": {
                    "description": "bad or missing "
                    "signature, unknown or "
                    "revoked agent, stale "
                    "send time",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "413": {
                    "description": "the body is over the size limit (default 2 MiB)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    },
    "/api/v1/agent/policy": {
        "get": {
            "summary": "The policy of the agent's group",
            "tags": ["agent"],
            "security": [{"agentSignature": []}],
            "responses": {
                "200": {
                    "description": "policy",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Policy"}}
                    },
                },
                "400": {
                    "description": "the body is not JSON or "
                    "does not match the schema; "
                    "the reason is given",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "401": {
                    "description": "bad or missing signature, "
                    "unknown or revoked agent, "
                    "stale send time",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "413": {
                    "description": "the body is over the size limit (default 2 MiB)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    },
    "/api/v1/agent/heartbeat": {
        "post": {
            "summary": "Report liveness; receive pending commands, acknowledge done ones",
            "tags": ["agent"],
            "security": [{"agentSignature": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Heartbeat"}}
                },
            },
            "responses": {
                "200": {
                    "description": "policy version and pending commands",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "policy_version": {"type": "integer"},
                                    "commands": {
                                        "type": "array",
                                        "items": {"$ref": "#/components/schemas/Command"},
                                    },
                                },
                            }
                        }
                    },
                },
                "400": {
                    "description": "the body is not JSON "
                    "or does not match the "
                    "schema; the reason is "
                    "given",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "401": {
                    "description": "bad or missing "
                    "signature, unknown or "
                    "revoked agent, stale "
                    "send time",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "413": {
                    "description": "the body is over the size limit (default 2 MiB)",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    },
    "/api/v1/agent/monitors": {
        "get": {
            "summary": "The page monitors this agent runs (internal-only sites)",
            "tags": ["agent"],
            "security": [{"agentSignature": []}],
            "responses": {
                "200": {
                    "description": "the monitors to fetch, and the body cap",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "monitors": {
                                        "type": "array",
                                        "maxItems": 100,
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "id": {"type": "integer"},
                                                "url": {"type": "string"},
                                                "interval_seconds": {"type": "integer"},
                                                "timeout_seconds": {"type": "integer"},
                                                "follow_redirects": {"type": "boolean"},
                                                "max_redirects": {"type": "integer"},
                                            },
                                        },
                                    },
                                    "max_body_bytes": {"type": "integer"},
                                },
                            }
                        }
                    },
                },
                "401": {
                    "description": "bad or missing "
                    "signature, unknown or "
                    "revoked agent, stale "
                    "send time",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    },
    "/api/v1/agent/monitor-outcomes": {
        "post": {
            "summary": "One fetch of a monitor this agent runs; "
            "the server judges and records it like its "
            "own checks",
            "tags": ["agent"],
            "security": [{"agentSignature": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["monitor_id", "checked_at", "url", "status", "ms"],
                            "additionalProperties": False,
                            "properties": {
                                "monitor_id": {"type": "integer", "minimum": 1},
                                "checked_at": {
                                    "type": "string",
                                    "format": "date-time",
                                    "description": "2 days at most",
                                },
                                "url": {
                                    "type": "string",
                                    "maxLength": 2000,
                                    "description": "the final URL",
                                },
                                "status": {
                                    "type": ["integer", "null"],
                                    "minimum": 100,
                                    "maximum": 999,
                                },
                                "ms": {"type": "integer", "minimum": 0},
                                "error": {
                                    "type": "string",
                                    "maxLength": 500,
                                    "description": "required without status",
                                },
                                "body": {
                                    "type": "string",
                                    "description": "base64, at most 1 MiB decoded",
                                },
                                "truncated": {"type": "boolean"},
                                "content_type": {"type": "string", "maxLength": 500},
                                "redirects": {
                                    "type": "array",
                                    "maxItems": 10,
                                    "items": {"type": "string"},
                                },
                                "cert": {
                                    "type": ["object", "null"],
                                    "properties": {
                                        "not_after": {
                                            "type": ["string", "null"],
                                            "format": "date-time",
                                        },
                                        "verified": {"type": "boolean"},
                                        "problem": {"type": "string", "maxLength": 500},
                                    },
                                },
                                "dropped": {
                                    "type": "integer",
                                    "minimum": 0,
                                    "description": "older "
                                    "outcomes "
                                    "of "
                                    "this "
                                    "monitor "
                                    "dropped "
                                    "while "
                                    "the "
                                    "server "
                                    "was "
                                    "unreachable",
                                },
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "recorded, or "
                    "not (reason "
                    "stale: a result "
                    "as recent "
                    "exists; paused)",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "recorded": {"type": "boolean"},
                                    "reason": {"enum": ["stale", "paused"]},
                                },
                            }
                        }
                    },
                },
                "400": {
                    "description": "not JSON, an "
                    "unknown or "
                    "invalid field, "
                    "a check time "
                    "out of bounds",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "401": {
                    "description": "bad or missing "
                    "signature, "
                    "unknown or "
                    "revoked agent, "
                    "stale send time",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "403": {
                    "description": "the monitor is not one this agent runs; nothing is recorded",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
                "413": {
                    "description": "the page body "
                    "is over 1 MiB, "
                    "or the request "
                    "over the body "
                    "limit",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                },
            },
        }
    },
}

AGENT_COMPONENTS: dict[str, Any] = {
    "Command": {
        "type": "object",
        "required": ["id", "type"],
        "properties": {"id": {"type": "string", "format": "uuid"}, "type": {"enum": ["scan_now"]}},
    },
    "Enroll": {
        "type": "object",
        "required": ["token", "public_key", "hostname", "platform"],
        "additionalProperties": False,
        "properties": {
            "token": {"type": "string"},
            "public_key": {
                "type": "string",
                "description": "base64 of the raw 32-byte Ed25519 key",
            },
            "hostname": {
                "type": "string",
                "maxLength": 255,
                "description": "a label, not identity",
            },
            "platform": {"type": "string", "maxLength": 32},
            "os": {"type": "string", "maxLength": 255},
            "agent_version": {"type": "string", "maxLength": 32},
        },
    },
    "Heartbeat": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "spool_depth": {"type": ["integer", "null"]},
            "last_seq": {"type": ["integer", "null"]},
            "epoch": {"type": ["integer", "null"]},
            "policy_version": {"type": ["integer", "null"]},
            "acked_commands": {"type": "array", "items": {"type": "string"}, "maxItems": 100},
        },
    },
    "Policy": {
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
    },
    "Report": {
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
            "results": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Result"},
                "maxItems": 2000,
            },
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
    },
    "Result": {
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
    },
}
