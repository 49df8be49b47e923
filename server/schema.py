"""A small strict validator for the agent API's JSON bodies (docs/architecture.md).

Every string, list and number has a bound, unknown keys are refused, and the error names the
exact place (``results[3].status``) so an agent's log says what to fix. The rules are a few
composable callables; orjson (a server dependency, never the agent's) parses bodies and encodes
JSON objects for their size bound, with the standard library as the exact fallback.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# A rule checks one value and returns it (possibly normalised). Errors carry the path where
# they happened; containers add their part while the error travels up, so the common case
# (valid input) never formats a path.
Rule = Callable[[Any], Any]

MAX_SAFE_INTEGER = 2**53 - 1  # what JavaScript clients can still read exactly


class SchemaError(ValueError):
    """A body does not match its schema; str() is the reason given to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []

    def __str__(self) -> str:
        where = "".join(part if part.startswith("[") else f".{part}" for part in self.path)
        return f"{where.lstrip('.') or 'body'}: {self.reason}"


def _fail(reason: str) -> SchemaError:
    return SchemaError(reason)


def string(max_length: int, min_length: int = 0, pattern: str | None = None) -> Rule:
    compiled = re.compile(pattern) if pattern else None

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _fail("must be a string")
        if not min_length <= len(value) <= max_length:
            raise _fail(f"length must be {min_length}..{max_length}")
        if compiled and not compiled.fullmatch(value):
            raise _fail(f"must match {pattern}")
        return value

    return check


def one_of(*choices: str) -> Rule:
    def check(value: Any) -> str:
        if value not in choices:
            raise _fail(f"must be one of {', '.join(choices)}")
        return str(value)

    return check


def integer(minimum: int = 0, maximum: int = MAX_SAFE_INTEGER) -> Rule:
    def check(value: Any) -> int:
        # bool is an int in Python, but true is not a sequence number.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail("must be a whole number")
        if not minimum <= value <= maximum:
            raise _fail(f"must be {minimum}..{maximum}")
        return value

    return check


def nullable(rule: Rule) -> Rule:
    def check(value: Any) -> Any:
        return None if value is None else rule(value)

    return check


def list_of(item: Rule, max_items: int) -> Rule:
    def check(value: Any) -> list[Any]:
        if not isinstance(value, list):
            raise _fail("must be a list")
        if len(value) > max_items:
            raise _fail(f"at most {max_items} items")
        out = []
        for index, element in enumerate(value):
            try:
                out.append(item(element))
            except SchemaError as error:
                error.path.insert(0, f"[{index}]")
                raise
        return out

    return check


class EncodedObject(dict[str, Any]):
    """A JSON object that also carries its compact encoding, made while checking its size, so
    the store does not encode it a second time. Everywhere else it is a plain dict."""

    encoded: str


def encode_compact(value: Any) -> str:
    """The reference encoding: compact, UTF-8 text (not ASCII escapes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode_fast(value: Any) -> str:
    """``encode_compact`` by orjson where orjson writes the same value.

    Strings, integers, true/false/null and separators come out byte for byte the same; a float
    may be spelt differently (``0.00001`` for ``1e-05``: the same number, at most 1.4 times as
    long or short). orjson refuses what it cannot write exactly (integers beyond 64 bits, the
    non-finite floats the stdlib parser lets through, see ``parse_json``): those go to the stdlib.
    """
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        return encode_compact(value)


def _encoded_size(value: Any, max_bytes: int) -> tuple[str, int]:
    """(encoding, its size in UTF-8 bytes) where the size is the stdlib's ``encode_compact``
    size whenever it decides the bound: a float may be spelt up to 1.4 times longer or shorter
    by orjson, so below half the bound both are surely within it; above, the stdlib measures."""
    try:
        raw = orjson.dumps(value)
    except orjson.JSONEncodeError:
        raw = None
    if raw is not None and len(raw) <= max_bytes // 2:
        return raw.decode(), len(raw)
    encoded = encode_compact(value)
    return encoded, len(encoded.encode())


def json_object(max_bytes: int, max_depth: int = 16) -> Rule:
    """Any JSON object, bounded by its encoded size and nesting depth."""

    def depth(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + max((depth(v) for v in value.values()), default=0)
        if isinstance(value, list):
            return 1 + max((depth(v) for v in value), default=0)
        return 0

    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail("must be an object")
        encoded, size = _encoded_size(value, max_bytes)
        if size > max_bytes:
            raise _fail(f"at most {max_bytes} bytes encoded")
        # Nesting cannot exceed the number of brackets; walk the value only when it might.
        if encoded.count("{") + encoded.count("[") > max_depth and depth(value) > max_depth:
            raise _fail(f"nested deeper than {max_depth}")
        checked = EncodedObject(value)
        checked.encoded = encoded
        return checked

    return check


def timestamp() -> Rule:
    """An ISO 8601 time with a zone (``2026-11-23T10:00:00Z``), returned as naive UTC."""

    def check(value: Any) -> datetime.datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise _fail("must be an ISO 8601 time string")
        try:
            parsed = datetime.datetime.fromisoformat(value)
        except ValueError as exc:
            raise _fail("must be an ISO 8601 time string") from exc
        if parsed.tzinfo is None:
            raise _fail("must carry a time zone, e.g. a trailing Z")
        if not 2000 <= parsed.year <= 2200:
            raise _fail("year out of range")
        return parsed.astimezone(datetime.UTC).replace(tzinfo=None)

    return check


@dataclass(frozen=True)
class Field:
    rule: Rule
    required: bool = True
    default: Any = None


def obj(fields: Mapping[str, Field]) -> Rule:
    def check(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _fail("must be an object")
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise _fail(f"unknown field {unknown[0]!r}")
        out: dict[str, Any] = {}
        for name, field in fields.items():
            if name not in value:
                if field.required:
                    error = _fail("is required")
                    error.path.insert(0, name)
                    raise error
                out[name] = field.default() if callable(field.default) else field.default
                continue
            try:
                out[name] = field.rule(value[name])
            except SchemaError as error:
                error.path.insert(0, name)
                raise
        return out

    return check


class _StdlibFloat(float):
    """A float read by the stdlib fallback parser (``NaN``, ``Infinity``, ``1e400`` among them).
    orjson refuses to encode a float subclass, so such a body is written back by the stdlib,
    exactly as before orjson was used."""


# Digits mapped to "0", everything else to " ": a run of 19 zeros may be an integer that orjson
# would read as a float (below -2**63 or above 2**64 - 1) where the stdlib reads it exactly.
# (Runs inside strings, or 19-digit integers that would fit, only cost the slower parser.)
_DIGIT_RUNS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


def parse_json(body: bytes) -> Any:
    """orjson for the common body; the stdlib's json for anything orjson refuses or would read
    differently (integers beyond 64 bits, NaN, UTF-16, a byte order mark), so what is accepted,
    its values and the error messages stay exactly the stdlib's."""
    if _LONG_NUMBER not in body.translate(_DIGIT_RUNS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(body, parse_float=_StdlibFloat, parse_constant=_StdlibFloat)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(f"body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise SchemaError("body is not JSON: nested too deeply") from exc


def validate(rule: Rule, document: Any) -> dict[str, Any]:
    result: dict[str, Any] = rule(document)
    return result


# -- the agent API's bodies -----------------------------------------------------------------

UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CHECK_ID_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,127}"
RULE_TAG_PATTERN = r"[A-Za-z0-9_.:-]+"  # POLICY.md tags such as E4
STATUSES = ("pass", "fail", "error", "not_applicable", "no_privilege")
SEVERITIES = ("info", "low", "medium", "high", "critical")
MAX_RESULTS = 2000
EVIDENCE_MAX_BYTES = 16 * 1024
INVENTORY_MAX_BYTES = 1024 * 1024

ENROLL = obj(
    {
        "token": Field(string(200, min_length=1)),
        "public_key": Field(string(64, min_length=1)),
        "hostname": Field(string(255, min_length=1)),
        "platform": Field(string(32, min_length=1, pattern=r"[a-z0-9_-]+")),
        "os": Field(string(255), required=False, default=""),
        "agent_version": Field(string(32), required=False, default=""),
    }
)

RESULT_FIELDS = {
    "check_id": Field(string(128, pattern=CHECK_ID_PATTERN)),
    "status": Field(one_of(*STATUSES)),
    "resource": Field(string(200, min_length=1)),
    "message": Field(string(1000)),
    "severity": Field(one_of(*SEVERITIES)),
    "evidence": Field(json_object(EVIDENCE_MAX_BYTES), required=False, default=dict),
    "rules": Field(
        list_of(string(16, min_length=1, pattern=RULE_TAG_PATTERN), 32),
        required=False,
        default=list,
    ),
}
RESULT_GENERIC = obj(RESULT_FIELDS)


def _result_rule() -> Rule:
    """``obj(RESULT_FIELDS)`` with the same checks written out for a result that passes them:
    a report carries up to 2,000 results, so the composed rules' calls are the validator's main
    cost. Anything the fast path does not accept goes to the composed rule, which accepts it
    or gives the exact reason (tests/server/test_schema.py holds the two paths equal)."""
    names = frozenset(RESULT_FIELDS)
    required = frozenset(name for name, field in RESULT_FIELDS.items() if field.required)
    statuses, severities = frozenset(STATUSES), frozenset(SEVERITIES)
    check_id_match = re.compile(CHECK_ID_PATTERN).fullmatch
    tag_match = re.compile(RULE_TAG_PATTERN).fullmatch
    evidence_rule = RESULT_FIELDS["evidence"].rule

    def tags_ok(tags: Any) -> bool:
        if type(tags) is not list or len(tags) > 32:
            return False
        for tag in tags:
            if type(tag) is not str or not 1 <= len(tag) <= 16 or not tag_match(tag):
                return False
        return True

    def check(value: Any) -> dict[str, Any]:
        if type(value) is not dict or not names.issuperset(value) or not required <= value.keys():
            return RESULT_GENERIC(value)  # type: ignore[no-any-return]
        check_id, status, resource = value["check_id"], value["status"], value["resource"]
        message, severity = value["message"], value["severity"]
        if not (
            type(check_id) is str
            and len(check_id) <= 128
            and check_id_match(check_id)
            and type(status) is str
            and status in statuses
            and type(resource) is str
            and 1 <= len(resource) <= 200
            and type(message) is str
            and len(message) <= 1000
            and type(severity) is str
            and severity in severities
        ):
            return RESULT_GENERIC(value)  # type: ignore[no-any-return]
        tags = value.get("rules")
        if tags is None:
            if "rules" in value:
                return RESULT_GENERIC(value)  # type: ignore[no-any-return]
            tags = []
        elif not tags_ok(tags):
            return RESULT_GENERIC(value)  # type: ignore[no-any-return]
        else:
            tags = list(tags)
        if "evidence" in value:
            try:
                evidence = evidence_rule(value["evidence"])
            except SchemaError:
                return RESULT_GENERIC(value)  # type: ignore[no-any-return]
        else:
            evidence = {}
        return {
            "check_id": check_id,
            "status": status,
            "resource": resource,
            "message": message,
            "severity": severity,
            "evidence": evidence,
            "rules": tags,
        }

    return check


RESULT = _result_rule()

GAP = obj(
    {
        "from_seq": Field(integer()),
        "to_seq": Field(integer()),
        "reason": Field(string(200)),
    }
)

# The file watcher's events (agent/watch/watcher.py; docs/file-watcher.md).
FILE_EVENT_ACTIONS = (
    "created",
    "modified",
    "deleted",
    "moved",
    "summary",
    "folder_missing",
    "folder_back",
)
MAX_FILE_EVENTS = 1000
FINDING = obj(
    {
        "kind": Field(one_of("webshell", "sensitive_word")),
        "rule": Field(string(100, min_length=1)),
    }
)
FILE_EVENT = obj(
    {
        "action": Field(one_of(*FILE_EVENT_ACTIONS)),
        "path": Field(string(1024, min_length=1)),
        "from_path": Field(nullable(string(1024)), required=False),
        "folder": Field(string(1024, min_length=1)),
        "folder_kind": Field(one_of("web_root", "upload")),
        "sha256": Field(nullable(string(64, 64, pattern=r"[0-9a-f]{64}")), required=False),
        "size": Field(nullable(integer()), required=False),
        "owner": Field(nullable(string(64)), required=False),
        "mtime": Field(nullable(timestamp()), required=False),
        "observed_at": Field(timestamp()),
        "summarised_action": Field(nullable(one_of(*FILE_EVENT_ACTIONS)), required=False),
        "count": Field(nullable(integer()), required=False),
        "findings": Field(list_of(FINDING, 20), required=False, default=list),
    }
)

REPORT = obj(
    {
        "agent_id": Field(string(36, pattern=UUID_PATTERN)),
        "epoch": Field(integer()),
        "seq": Field(integer()),
        "kind": Field(string(32, min_length=1, pattern=r"[a-z][a-z0-9_]*")),
        "created_at": Field(timestamp()),
        "policy_version": Field(nullable(integer()), required=False),
        "results": Field(list_of(RESULT, MAX_RESULTS)),
        "inventory": Field(nullable(json_object(INVENTORY_MAX_BYTES)), required=False),
        "gaps": Field(list_of(GAP, 100), required=False, default=list),
        "file_events": Field(list_of(FILE_EVENT, MAX_FILE_EVENTS), required=False, default=list),
    }
)

HEARTBEAT = obj(
    {
        "spool_depth": Field(nullable(integer(maximum=10**9)), required=False),
        "last_seq": Field(nullable(integer()), required=False),
        "epoch": Field(nullable(integer()), required=False),
        "policy_version": Field(nullable(integer()), required=False),
        "acked_commands": Field(
            list_of(string(36, pattern=UUID_PATTERN), 100), required=False, default=list
        ),
    }
)
