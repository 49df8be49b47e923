"""The result contract of docs/architecture.md, including its size bounds."""

from __future__ import annotations

import json
from datetime import date

from checks.model import (
    MAX_EVIDENCE_BYTES,
    MAX_MESSAGE_CHARS,
    MAX_RESOURCE_CHARS,
    TRUNCATION_MARKER,
    Result,
    Severity,
    Status,
)


def _result(**overrides: object) -> Result:
    fields: dict[str, object] = {
        "check_id": "accounts.uid0_extra",
        "status": Status.FAIL,
        "resource": "user:toor",
        "message": "account toor has UID 0",
        "evidence": {"uid": 0},
        "rules": ["E8", "E16"],
        "severity": Severity.HIGH,
    }
    fields.update(overrides)
    return Result(**fields)  # type: ignore[arg-type]


def test_closed_sets() -> None:
    assert [s.value for s in Status] == ["pass", "fail", "error", "not_applicable", "no_privilege"]
    assert [s.value for s in Severity] == ["info", "low", "medium", "high", "critical"]


def test_to_dict_is_the_documented_shape() -> None:
    assert _result().to_dict() == {
        "check_id": "accounts.uid0_extra",
        "status": "fail",
        "resource": "user:toor",
        "message": "account toor has UID 0",
        "evidence": {"uid": 0},
        "rules": ["E8", "E16"],
        "severity": "high",
    }
    json.dumps(_result().to_dict())


def test_long_fields_are_cut_with_a_marker() -> None:
    wire = _result(resource="r" * 500, message="消息" * 1000).to_dict()
    assert len(wire["resource"]) == MAX_RESOURCE_CHARS
    assert wire["resource"].endswith(TRUNCATION_MARKER)
    assert len(wire["message"]) == MAX_MESSAGE_CHARS
    assert wire["message"].endswith(TRUNCATION_MARKER)


def test_large_evidence_becomes_a_bounded_preview() -> None:
    evidence = {"ports": list(range(20000)), "名字": "端口" * 5000}
    wire = _result(evidence=evidence).to_dict()
    encoded = json.dumps(wire["evidence"], ensure_ascii=False, separators=(",", ":"))
    assert len(encoded.encode()) <= MAX_EVIDENCE_BYTES
    assert wire["evidence"]["truncated"] is True
    assert wire["evidence"]["original_bytes"] > MAX_EVIDENCE_BYTES
    assert wire["evidence"]["preview"].startswith('{"ports":[0,1,2')
    assert wire["evidence"]["preview"].endswith(TRUNCATION_MARKER)


def test_evidence_that_json_cannot_carry_becomes_text() -> None:
    wire = _result(evidence={"when": date(2026, 11, 23), "ids": (1, 2)}).to_dict()
    assert wire["evidence"] == {"when": "2026-11-23", "ids": [1, 2]}


def test_small_evidence_is_untouched() -> None:
    evidence = {"addresses": ["0.0.0.0"] * 100}
    assert _result(evidence=evidence).to_dict()["evidence"] == evidence
