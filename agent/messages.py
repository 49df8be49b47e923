"""What the agent accepts from the server: every answer is checked against docs/architecture.md
before any of it is used. A server answer is input like any other; a bad one is a
:class:`MessageError`, logged and ignored, never a crash or a half-applied policy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agent.transport import ProtocolError
from xunjian.core.contract import (
    CHECK_ID_PATTERN,
    COMMAND_TYPE_PATTERN,
    FILE_PATH_MAX,
    GROUP_NAME_MAX,
    HEARTBEAT_INTERVAL_BOUNDS,
    MAX_COMMANDS,
    MAX_POLICY_CHECKS,
    MAX_SENSITIVE_WORDS,
    MAX_WATCH_FOLDERS,
    SCAN_INTERVAL_BOUNDS,
    SENSITIVE_WORD_MAX,
    UUID_PATTERN,
    WATCH_KINDS,
)

# The answers are read leniently where the contract allows it (keys a newer server adds are
# ignored, intervals are clamped) and strictly everywhere else, with the contract's numbers.
CHECK_ID = re.compile(CHECK_ID_PATTERN)
COMMAND_ID = re.compile(UUID_PATTERN)
COMMAND_TYPE = re.compile(COMMAND_TYPE_PATTERN)


class MessageError(ProtocolError):
    """A server answer that is JSON but not the agreed shape."""


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MessageError(f"{where} must be a whole number >= 0, not {value!r:.60}")
    return value


def _clamped_seconds(value: Any, where: str, bounds: tuple[float, float]) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise MessageError(f"{where} must be a number of seconds")
    low, high = bounds
    return float(min(max(value, low), high))


@dataclass(frozen=True)
class Policy:
    version: int
    group: str
    checks: dict[str, dict[str, Any]]
    scan_interval_seconds: float | None = None
    heartbeat_interval_seconds: float | None = None
    approved: dict[str, Any] = field(default_factory=dict)
    # The file watcher's folders [(path, "web_root" | "upload")] and sensitive words.
    watch_folders: tuple[tuple[str, str], ...] = ()
    sensitive_words: tuple[str, ...] = ()


def parse_policy(value: Any) -> Policy:
    """``GET /api/v1/agent/policy``'s answer, checked; intervals clamped to sane bounds."""
    if not isinstance(value, dict):
        raise MessageError("policy must be a JSON object")
    version = _int(value.get("version"), "policy.version")
    group = value.get("group", "")
    if not isinstance(group, str) or len(group) > GROUP_NAME_MAX:
        raise MessageError("policy.group must be a short string")
    raw_checks = value.get("checks", {})
    if not isinstance(raw_checks, dict) or len(raw_checks) > MAX_POLICY_CHECKS:
        raise MessageError(f"policy.checks must be an object of at most {MAX_POLICY_CHECKS}")
    checks: dict[str, dict[str, Any]] = {}
    for check_id, entry in raw_checks.items():
        if not CHECK_ID.fullmatch(check_id):
            raise MessageError(f"policy.checks: bad check id {check_id!r:.60}")
        if not isinstance(entry, dict):
            raise MessageError(f"policy.checks.{check_id} must be an object")
        enabled = entry.get("enabled", True)
        params = entry.get("params", {})
        if not isinstance(enabled, bool):
            raise MessageError(f"policy.checks.{check_id}.enabled must be true or false")
        if not isinstance(params, dict):
            raise MessageError(f"policy.checks.{check_id}.params must be an object")
        checks[check_id] = {"enabled": enabled, "params": params}
    schedules = value.get("schedules", {})
    if not isinstance(schedules, dict):
        raise MessageError("policy.schedules must be an object")
    approved = value.get("approved", {})
    if not isinstance(approved, dict):
        raise MessageError("policy.approved must be an object")
    return Policy(
        version=version,
        group=group,
        checks=checks,
        scan_interval_seconds=_clamped_seconds(
            schedules.get("scan_interval_seconds"),
            "policy.schedules.scan_interval_seconds",
            SCAN_INTERVAL_BOUNDS,
        ),
        heartbeat_interval_seconds=_clamped_seconds(
            schedules.get("heartbeat_interval_seconds"),
            "policy.schedules.heartbeat_interval_seconds",
            HEARTBEAT_INTERVAL_BOUNDS,
        ),
        approved=approved,
        **_parse_watch(value.get("watch", {})),
    )


def _parse_watch(raw: Any) -> dict[str, Any]:
    """``policy.watch``: {"folders": [{"path", "kind"}], "sensitive_words": [...]}."""
    if not isinstance(raw, dict):
        raise MessageError("policy.watch must be an object")
    folders = raw.get("folders", [])
    words = raw.get("sensitive_words", [])
    if not isinstance(folders, list) or len(folders) > MAX_WATCH_FOLDERS:
        raise MessageError(f"policy.watch.folders must be a list of at most {MAX_WATCH_FOLDERS}")
    parsed: list[tuple[str, str]] = []
    for entry in folders:
        if not isinstance(entry, dict):
            raise MessageError("policy.watch.folders: each entry must be an object")
        path, kind = entry.get("path"), entry.get("kind")
        if not isinstance(path, str) or not 0 < len(path) <= FILE_PATH_MAX or "\0" in path:
            raise MessageError("policy.watch.folders: path must be a non-empty string")
        if kind not in WATCH_KINDS:
            raise MessageError(f"policy.watch.folders: kind must be one of {WATCH_KINDS}")
        parsed.append((path, kind))
    if not isinstance(words, list) or len(words) > MAX_SENSITIVE_WORDS:
        raise MessageError(
            f"policy.watch.sensitive_words must be a list of at most {MAX_SENSITIVE_WORDS}"
        )
    if not all(isinstance(word, str) and 0 < len(word) <= SENSITIVE_WORD_MAX for word in words):
        raise MessageError(
            f"policy.watch.sensitive_words: each must be 1-{SENSITIVE_WORD_MAX} characters"
        )
    return {"watch_folders": tuple(parsed), "sensitive_words": tuple(words)}


@dataclass(frozen=True)
class Command:
    id: str
    type: str
    # Isolation commands: the host's generation and the command key's signature.
    generation: int | None = None
    signature: str | None = None


@dataclass(frozen=True)
class HeartbeatAnswer:
    policy_version: int | None
    commands: tuple[Command, ...]
    command_key: str | None = None


def parse_heartbeat_answer(value: Any) -> HeartbeatAnswer:
    if not isinstance(value, dict):
        raise MessageError("heartbeat answer must be a JSON object")
    version = value.get("policy_version")
    if version is not None:
        version = _int(version, "heartbeat.policy_version")
    raw_commands = value.get("commands", [])
    if not isinstance(raw_commands, list) or len(raw_commands) > MAX_COMMANDS:
        raise MessageError(f"heartbeat.commands must be a list of at most {MAX_COMMANDS}")
    commands: list[Command] = []
    for index, raw in enumerate(raw_commands):
        if not isinstance(raw, dict):
            raise MessageError(f"heartbeat.commands[{index}] must be an object")
        command_id, command_type = raw.get("id"), raw.get("type")
        if not isinstance(command_id, str) or not COMMAND_ID.fullmatch(command_id):
            raise MessageError(f"heartbeat.commands[{index}].id must be a lower-case UUID")
        if not isinstance(command_type, str) or not COMMAND_TYPE.fullmatch(command_type):
            raise MessageError(f"heartbeat.commands[{index}].type is malformed")
        generation, signature = raw.get("generation"), raw.get("signature")
        if generation is not None:
            generation = _int(generation, f"heartbeat.commands[{index}].generation")
        if signature is not None and (not isinstance(signature, str) or len(signature) > 100):
            raise MessageError(f"heartbeat.commands[{index}].signature is malformed")
        commands.append(Command(command_id, command_type, generation, signature))
    command_key = value.get("command_key")
    if command_key is not None and (not isinstance(command_key, str) or len(command_key) != 44):
        raise MessageError("heartbeat.command_key must be a base64 Ed25519 key")
    return HeartbeatAnswer(version, tuple(commands), command_key)


def report_confirmed(value: Any) -> bool:
    """True when the server holds the report: ``stored: true`` or ``duplicate: true``."""
    if not isinstance(value, dict):
        raise MessageError("report answer must be a JSON object")
    return value.get("stored") is True or value.get("duplicate") is True
