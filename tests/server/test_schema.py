"""The strict validator: bounds, unknown keys, exact places in the reasons."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from server import schema


def report(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "agent_id": "0b7c5a54-93a4-4d52-9d7e-6a0ec2a6c9a1",
        "epoch": 1,
        "seq": 1,
        "kind": "scan",
        "created_at": "2026-11-23T10:00:00+08:00",
        "results": [
            {
                "check_id": "accounts.uid0_extra",
                "status": "fail",
                "resource": "user:toor",
                "message": "account toor has UID 0",
                "severity": "high",
            }
        ],
    }
    document.update(changes)
    return document


def reason(document: Any, rule: schema.Rule = schema.REPORT) -> str:
    with pytest.raises(schema.SchemaError) as caught:
        schema.validate(rule, document)
    return str(caught.value)


def test_a_minimal_report_gets_defaults_and_utc_time() -> None:
    checked = schema.validate(schema.REPORT, report())
    assert checked["created_at"] == datetime.datetime(2026, 11, 23, 2, 0, 0)
    assert checked["results"][0]["evidence"] == {} and checked["results"][0]["rules"] == []
    assert checked["gaps"] == [] and checked["inventory"] is None
    assert checked["policy_version"] is None


def test_reasons_name_the_place() -> None:
    bad = report()
    bad["results"] = [bad["results"][0], {**bad["results"][0], "severity": "urgent"}]
    assert reason(bad).startswith("results[1].severity: must be one of")
    assert reason([1, 2]) == "body: must be an object"
    assert reason(report(gaps=[{"from_seq": 1, "to_seq": 2}])) == "gaps[0].reason: is required"


def test_evidence_depth_is_bounded() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(20):
        cursor["x"] = {}
        cursor = cursor["x"]
    bad = report()
    bad["results"][0]["evidence"] = deep
    assert "nested deeper than" in reason(bad)


def test_evidence_size_counts_encoded_bytes() -> None:
    bad = report()
    bad["results"][0]["evidence"] = {"text": "巡" * 6000}  # 18,000 bytes in UTF-8
    assert "results[0].evidence: at most 16384 bytes" in reason(bad)


@pytest.mark.parametrize("value", [True, 1.5, "1", None, 2**53])
def test_whole_numbers_only(value: Any) -> None:
    assert reason(report(seq=value)).startswith("seq: must be")


def test_heartbeat_defaults_and_unknown_fields() -> None:
    assert schema.validate(schema.HEARTBEAT, {})["acked_commands"] == []
    assert reason({"surprise": 1}, schema.HEARTBEAT) == "body: unknown field 'surprise'"


def test_enroll_platform_is_a_plain_word() -> None:
    document = {"token": "t", "public_key": "k", "hostname": "h", "platform": "linux; rm -rf"}
    assert reason(document, schema.ENROLL).startswith("platform: must match")


def test_not_json_is_a_schema_error() -> None:
    with pytest.raises(schema.SchemaError, match="not JSON"):
        schema.parse_json(b"\xff\xfe")
