"""The result contract of docs/architecture.md: closed status set, severities, bounded fields.

The one sanctioned copy of xunjian/core/contract/'s result values: the check library imports
only the standard library (``xunjian scan`` runs anywhere; tests/checks/test_registry.py) and
the idle agent service must not load it (tests/agent/test_agent_scanning.py), so neither can
import the other. tests/core/test_contract.py holds the two equal."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

MAX_RESOURCE_CHARS = 200
MAX_MESSAGE_CHARS = 1000
MAX_EVIDENCE_BYTES = 16 * 1024
MAX_MESSAGE_PARAMS = 16
MAX_MESSAGE_PARAM_CHARS = 300
TRUNCATION_MARKER = "…[truncated]"


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_APPLICABLE = "not_applicable"
    NO_PRIVILEGE = "no_privilege"


class Severity(StrEnum):
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Finding:
    """What a check judged, before the engine stamps the check's id, rules and severity on it.

    Checks return findings rather than results so that a check's metadata lives only in the
    registry; a finding may raise the severity for one resource (telnet is worse than a web port).
    """

    status: Status
    resource: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None
    # The sentence's id in checks/messages.py and its parameters, so a reader gets it in their
    # language; ``message`` is its English (checks.messages.say makes all three).
    message_id: str = ""
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    check_id: str
    status: Status
    resource: str
    message: str
    evidence: dict[str, Any]
    rules: list[str]
    severity: Severity
    message_id: str = ""
    params: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The wire form; over-long fields are cut with a marker instead of failing the report."""
        said: dict[str, Any] = {}
        if self.message_id:
            said = {
                "message_id": self.message_id,
                "params": {
                    str(name): truncate_text(str(value), MAX_MESSAGE_PARAM_CHARS)
                    for name, value in list(self.params.items())[:MAX_MESSAGE_PARAMS]
                },
            }
        return {
            **said,
            "check_id": self.check_id,
            "status": Status(self.status).value,
            "resource": truncate_text(self.resource, MAX_RESOURCE_CHARS),
            "message": truncate_text(self.message, MAX_MESSAGE_CHARS),
            "evidence": bound_evidence(self.evidence),
            "rules": [str(rule) for rule in self.rules],
            "severity": Severity(self.severity).value,
        }


def truncate_text(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def bound_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """Evidence as a JSON object of at most MAX_EVIDENCE_BYTES encoded.

    Values JSON cannot carry become their str() so one odd value never loses a whole report.
    Evidence too large is replaced by a marked preview of its encoded text.
    """
    safe = json.loads(json.dumps(evidence, ensure_ascii=False, default=str))
    if not isinstance(safe, dict):
        safe = {"value": safe}
    size = _encoded_size(safe)
    if size <= MAX_EVIDENCE_BYTES:
        return safe
    encoded = json.dumps(safe, ensure_ascii=False, separators=(",", ":"))
    bounded: dict[str, Any] = {"truncated": True, "original_bytes": size, "preview": ""}
    room = MAX_EVIDENCE_BYTES - _encoded_size(bounded) - len(TRUNCATION_MARKER.encode()) - 64
    preview = encoded.encode("utf-8")[: max(room, 0)].decode("utf-8", errors="ignore")
    # Escaping can grow the preview when it is re-encoded as a JSON string; shrink until it fits.
    while preview:
        bounded["preview"] = preview + TRUNCATION_MARKER
        if _encoded_size(bounded) <= MAX_EVIDENCE_BYTES:
            return bounded
        preview = preview[: int(len(preview) * 0.9)]
    bounded["preview"] = TRUNCATION_MARKER
    return bounded
