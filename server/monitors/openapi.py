"""The OpenAPI description of ``/api/v1/monitors`` and of the agent's monitor routes
(``/api/v1/agent/monitors``, ``/api/v1/agent/monitor-outcomes``), merged into
``server/openapi.py``'s document. Schemas are inline so the merge is one line. Imports
nothing from ``server``."""

from __future__ import annotations

from typing import Any

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_BEARER = [{"bearerToken": []}]
_SIGNED = [{"agentSignature": []}]
_MONITOR_ID = {"name": "monitor_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_PROPOSAL_ID = {
    "name": "proposal_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer"},
}
_TIME = {"type": ["string", "null"], "format": "date-time"}
_PAGE = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 100},
    },
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR_REF}


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SETTINGS: dict[str, Any] = {
    "url": {
        "type": "string",
        "maxLength": 2000,
        "description": "http:// or https://, no user:pass@",
    },
    "name": {"type": "string", "maxLength": 200},
    "enabled": {"type": "boolean", "default": True},
    "interval_seconds": {"type": "integer", "minimum": 5, "maximum": 86400, "default": 300},
    "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 60, "default": 10},
    "accepted_statuses": {"type": "string", "default": "200-299", "examples": ["200-299,301"]},
    "keyword": {"type": "string", "maxLength": 500, "description": "must be present"},
    "absent_keyword": {"type": "string", "maxLength": 500, "description": "must be absent"},
    "max_ms": {"type": ["integer", "null"], "minimum": 1, "maximum": 60000},
    "follow_redirects": {"type": "boolean", "default": True},
    "max_redirects": {"type": "integer", "minimum": 0, "maximum": 10, "default": 5},
    "ca_file": {"type": "string", "description": "absolute path of a PEM CA file on the server"},
    "cert_warn_days": {"type": "integer", "minimum": 0, "maximum": 365, "default": 14},
    "fail_threshold": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3},
    "success_threshold": {"type": "integer", "minimum": 1, "maximum": 20, "default": 2},
    "reminder_seconds": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 3600},
    "tamper_enabled": {"type": "boolean", "default": True},
    "similarity_percent": {"type": "integer", "minimum": 1, "maximum": 100, "default": 80},
    "volatile_selectors": {
        "type": "array",
        "maxItems": 20,
        "items": {"type": "string", "description": "tag, #id, .class, tag.class or tag#id"},
    },
    "volatile_patterns": {
        "type": "array",
        "maxItems": 20,
        "items": {"type": "string", "maxLength": 200, "description": "a regular expression"},
    },
    "maintenance": {
        "type": ["object", "null"],
        "properties": {"start": {"type": "string"}, "end": {"type": "string"}},
        "description": "a window (at most 31 days) in which alerts are muted",
    },
    "agent_id": {
        "type": ["string", "null"],
        "description": "the enrolled, not revoked agent that fetches the page (an "
        "internal-only site; at most 100 per agent; no ca_file then); null: the server does",
    },
}

_MONITOR: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "state": {"enum": ["up", "pending", "down"]},
        "state_since": _TIME,
        "last_checked_at": _TIME,
        "last_result": {
            "type": ["object", "null"],
            "description": "ok, status_code, ms, problems, slow, cert_problem, "
            "cert_days_left, error, final_url, tamper {tampered, similarity, reasons}",
        },
        "next_due_at": _TIME,
        "open_alerts": {"type": "array", "items": {"enum": ["down", "slow", "cert", "tamper"]}},
        "in_maintenance": {"type": "boolean"},
        "uptime": {
            "type": ["object", "null"],
            "properties": {k: {"type": ["number", "null"]} for k in ("24h", "7d", "30d")},
        },
        "baseline": {"type": ["object", "null"]},
        "page_changed_at": _TIME,
        "created_at": _TIME,
        "created_by": {"type": "string"},
        "last_result_age_seconds": {
            "type": ["integer", "null"],
            "description": "seconds since the last result (an agent gone silent shows here)",
        },
        "run_by": {
            "type": "object",
            "description": '{"kind": "server"} or {"kind": "agent", "agent_id", "hostname", '
            '"revoked", "last_seen"}',
        },
        **_SETTINGS,
    },
}

_PROPOSAL: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "monitor_id": {"type": "integer"},
        "status": {"enum": ["pending", "approved", "rejected", "superseded"]},
        "proposed_by": {"type": "string"},
        "proposed_at": _TIME,
        "note": {"type": "string"},
        "title": {"type": "string"},
        "domains": {"type": "array", "items": {"type": "string"}},
        "diff": {"type": "string", "description": "unified diff, baseline -> proposed"},
        "decided_by": {"type": ["string", "null"]},
        "decided_at": _TIME,
    },
}

_UNAUTHORIZED = _error("missing, unknown or revoked API token")
_NOT_FOUND = _error("no such monitor")


def _decision(verb: str) -> dict[str, Any]:
    responses = {
        "200": _json("the decided proposal", _PROPOSAL),
        "401": _UNAUTHORIZED,
        "403": _error("auditor tokens may not decide")
        if verb == "reject"
        else _error("auditor tokens, or the proposer (two people are needed: POLICY.md E9)"),
        "404": _error("no such monitor or proposal"),
        "409": _error("the proposal is decided already"),
    }
    return {
        "post": {
            "summary": f"{verb.capitalize()} a proposed baseline (admin and operator)",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [_MONITOR_ID, _PROPOSAL_ID],
            "responses": responses,
        }
    }


MONITOR_PATHS: dict[str, Any] = {
    "/api/v1/monitors": {
        "get": {
            "summary": "Page monitors with state, last result and uptime (any role)",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [
                {"name": "state", "in": "query", "schema": {"enum": ["up", "pending", "down"]}},
                *_PAGE,
            ],
            "responses": {
                "200": _json(
                    "a page of monitors",
                    {
                        "type": "object",
                        "properties": {
                            "monitors": {"type": "array", "items": _MONITOR},
                            "total": {"type": "integer"},
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                        },
                    },
                ),
                "400": _error("bad state, limit or offset"),
                "401": _UNAUTHORIZED,
            },
        },
        "post": {
            "summary": "Add a monitor (admin and operator); the page's baseline is taken now",
            "tags": ["monitors"],
            "security": _BEARER,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["url"],
                            "additionalProperties": False,
                            "properties": _SETTINGS,
                        }
                    }
                },
            },
            "responses": {
                "201": _json("the new monitor", _MONITOR),
                "400": _error("an invalid or unknown field; the reason names it"),
                "401": _UNAUTHORIZED,
                "403": _error("auditor tokens may not add monitors"),
                "409": _error("too many monitors"),
            },
        },
    },
    "/api/v1/monitors/{monitor_id}": {
        "get": {
            "summary": "One monitor",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [_MONITOR_ID],
            "responses": {
                "200": _json("the monitor", _MONITOR),
                "401": _UNAUTHORIZED,
                "404": _NOT_FOUND,
            },
        },
        "patch": {
            "summary": "Change a monitor's settings (admin and operator); a new URL or new "
            "volatile parts drop the baseline, and the next good check takes a new one",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [_MONITOR_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": _SETTINGS,
                        }
                    }
                },
            },
            "responses": {
                "200": _json("the monitor", _MONITOR),
                "400": _error("an invalid or unknown field"),
                "401": _UNAUTHORIZED,
                "403": _error("auditor tokens may not change monitors"),
                "404": _NOT_FOUND,
            },
        },
        "delete": {
            "summary": "Delete a monitor and its history (admin and operator); its alerts "
            "are resolved",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [_MONITOR_ID],
            "responses": {
                "204": {"description": "deleted"},
                "401": _UNAUTHORIZED,
                "403": _error("auditor tokens may not delete monitors"),
                "404": _NOT_FOUND,
            },
        },
    },
    "/api/v1/monitors/{monitor_id}/history": {
        "get": {
            "summary": "Raw results (newest first) or hourly/daily aggregates",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [
                _MONITOR_ID,
                {"name": "period", "in": "query", "schema": {"enum": ["raw", "hour", "day"]}},
                {
                    "name": "days",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 366},
                },
                *_PAGE,
            ],
            "responses": {
                "200": _json("results or aggregates", {"type": "object"}),
                "400": _error("bad period, days, limit or offset"),
                "401": _UNAUTHORIZED,
                "404": _NOT_FOUND,
            },
        }
    },
    "/api/v1/monitors/{monitor_id}/baseline": {
        "get": {
            "summary": "The accepted baseline, the latest changed page and recent proposals",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [_MONITOR_ID],
            "responses": {
                "200": _json(
                    "baseline, candidate and proposals",
                    {
                        "type": "object",
                        "properties": {
                            "baseline": {"type": ["object", "null"]},
                            "candidate": {"type": ["object", "null"]},
                            "proposals": {"type": "array", "items": _PROPOSAL},
                        },
                    },
                ),
                "401": _UNAUTHORIZED,
                "404": _NOT_FOUND,
            },
        }
    },
    "/api/v1/monitors/{monitor_id}/baseline/proposals": {
        "post": {
            "summary": "Propose the latest changed page as the new baseline (admin and "
            "operator); another person must approve it",
            "tags": ["monitors"],
            "security": _BEARER,
            "parameters": [_MONITOR_ID],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"note": {"type": "string", "maxLength": 1000}},
                        }
                    }
                },
            },
            "responses": {
                "201": _json("the proposal", _PROPOSAL),
                "400": _error('the body is not empty, {} or {"note": text}'),
                "401": _UNAUTHORIZED,
                "403": _error("auditor tokens may not propose"),
                "404": _NOT_FOUND,
                "409": _error("the page matches its baseline; nothing to accept"),
            },
        }
    },
    "/api/v1/monitors/{monitor_id}/baseline/proposals/{proposal_id}/approve": _decision("approve"),
    "/api/v1/monitors/{monitor_id}/baseline/proposals/{proposal_id}/reject": _decision("reject"),
    "/api/v1/monitors/defacement-words": {
        "get": {
            "summary": "The defacement word list (any role)",
            "tags": ["monitors"],
            "security": _BEARER,
            "responses": {
                "200": _json(
                    "the words",
                    {"type": "object", "properties": {"words": {"type": "array"}}},
                ),
                "401": _UNAUTHORIZED,
            },
        },
        "put": {
            "summary": "Replace the defacement word list (admin only)",
            "tags": ["monitors"],
            "security": _BEARER,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["words"],
                            "additionalProperties": False,
                            "properties": {
                                "words": {
                                    "type": "array",
                                    "maxItems": 2000,
                                    "items": {"type": "string", "maxLength": 100},
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json(
                    "the words as stored (lower case, deduplicated)",
                    {"type": "object", "properties": {"words": {"type": "array"}}},
                ),
                "400": _error('the body is not {"words": [text, ...]}'),
                "401": _UNAUTHORIZED,
                "403": _error("only admin tokens edit the list"),
            },
        },
    },
}


# -- the agent's side: the monitors it runs and the outcomes it posts -------------------------
_AGENT_REFUSALS = {
    "401": _error("bad or missing signature, unknown or revoked agent, stale send time"),
}
_OUTCOME: dict[str, Any] = {
    "type": "object",
    "required": ["monitor_id", "checked_at", "url", "status", "ms"],
    "additionalProperties": False,
    "properties": {
        "monitor_id": {"type": "integer", "minimum": 1},
        "checked_at": {"type": "string", "format": "date-time", "description": "2 days at most"},
        "url": {"type": "string", "maxLength": 2000, "description": "the final URL"},
        "status": {"type": ["integer", "null"], "minimum": 100, "maximum": 999},
        "ms": {"type": "integer", "minimum": 0},
        "error": {"type": "string", "maxLength": 500, "description": "required without status"},
        "body": {"type": "string", "description": "base64, at most 1 MiB decoded"},
        "truncated": {"type": "boolean"},
        "content_type": {"type": "string", "maxLength": 500},
        "redirects": {"type": "array", "maxItems": 10, "items": {"type": "string"}},
        "cert": {
            "type": ["object", "null"],
            "properties": {
                "not_after": _TIME,
                "verified": {"type": "boolean"},
                "problem": {"type": "string", "maxLength": 500},
            },
        },
        "dropped": {
            "type": "integer",
            "minimum": 0,
            "description": "older outcomes of this monitor dropped while the server was "
            "unreachable",
        },
    },
}
AGENT_MONITOR_PATHS: dict[str, Any] = {
    "/api/v1/agent/monitors": {
        "get": {
            "summary": "The page monitors this agent runs (internal-only sites)",
            "tags": ["agent"],
            "security": _SIGNED,
            "responses": {
                "200": _json(
                    "the monitors to fetch, and the body cap",
                    {
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
                    },
                ),
                **_AGENT_REFUSALS,
            },
        }
    },
    "/api/v1/agent/monitor-outcomes": {
        "post": {
            "summary": "One fetch of a monitor this agent runs; the server judges and records "
            "it like its own checks",
            "tags": ["agent"],
            "security": _SIGNED,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _OUTCOME}},
            },
            "responses": {
                "200": _json(
                    "recorded, or not (reason stale: a result as recent exists; paused)",
                    {
                        "type": "object",
                        "properties": {
                            "recorded": {"type": "boolean"},
                            "reason": {"enum": ["stale", "paused"]},
                        },
                    },
                ),
                "400": _error("not JSON, an unknown or invalid field, a check time out of bounds"),
                **_AGENT_REFUSALS,
                "403": _error("the monitor is not one this agent runs; nothing is recorded"),
                "413": _error("the page body is over 1 MiB, or the request over the body limit"),
            },
        }
    },
}
MONITOR_PATHS.update(AGENT_MONITOR_PATHS)
