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


def _outcome(rule: schema.Rule, value: Any) -> Any:
    try:
        checked = rule(value)
    except schema.SchemaError as error:
        return ("refused", str(error))
    return ("accepted", checked, [type(item) for item in checked.values()])


_GOOD_RESULT: dict[str, Any] = {
    "check_id": "accounts.uid0_extra",
    "status": "fail",
    "resource": "user:toor",
    "message": "account toor has UID 0",
    "severity": "high",
    "evidence": {"uid": 0, "names": ["toor"]},
    "rules": ["E8", "E16"],
}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"evidence": {}},
        {"rules": []},
        {"check_id": ""},
        {"check_id": "A.b"},
        {"check_id": "c" * 128},
        {"check_id": "c" * 129},
        {"check_id": 5},
        {"status": "ok"},
        {"status": ["pass"]},
        {"status": None},
        {"resource": ""},
        {"resource": "r" * 200},
        {"resource": "r" * 201},
        {"message": ""},
        {"message": "m" * 1001},
        {"message": b"bytes"},
        {"severity": "urgent"},
        {"evidence": None},
        {"evidence": []},
        {"evidence": {"x": "y" * 17000}},
        {"evidence": {"text": "巡" * 6000}},
        {"evidence": {"n": 1e-05, "big": 2**70}},
        {"rules": None},
        {"rules": "E8"},
        {"rules": [""]},
        {"rules": ["E" * 17]},
        {"rules": ["E 8"]},
        {"rules": [8]},
        {"rules": ["E8"] * 33},
        {"extra": 1},
    ],
)
def test_the_fast_result_rule_agrees_with_the_composed_one(change: dict[str, Any]) -> None:
    value = {**_GOOD_RESULT, **change}
    assert _outcome(schema.RESULT, value) == _outcome(schema.RESULT_GENERIC, value)
    for name in ("evidence", "rules", "check_id", "message"):
        without = {key: item for key, item in value.items() if key != name}
        assert _outcome(schema.RESULT, without) == _outcome(schema.RESULT_GENERIC, without)
    assert _outcome(schema.RESULT, [value]) == _outcome(schema.RESULT_GENERIC, [value])


def test_orjson_and_the_stdlib_read_bodies_alike() -> None:
    for body, expected in [
        (b'{"a": 1e-05, "b": [1, 2.5, "x"]}', {"a": 1e-05, "b": [1, 2.5, "x"]}),
        (b'{"n": 123456789012345678901234567890}', {"n": 123456789012345678901234567890}),
        (b'{"n": -9223372036854775809}', {"n": -9223372036854775809}),
        ('{"a": "巡"}'.encode("utf-16"), {"a": "巡"}),
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),
    ]:
        parsed = schema.parse_json(body)
        assert parsed == expected and type(parsed) is dict
        assert [type(v) for v in parsed.values()] == [type(v) for v in expected.values()]
    nan = schema.parse_json(b'{"x": NaN, "y": Infinity}')
    # Written back as the stdlib wrote it (orjson would write null).
    assert schema.encode_fast(nan) == '{"x":NaN,"y":Infinity}'
    with pytest.raises(schema.SchemaError, match="body is not JSON"):
        schema.parse_json(b"[" * 100_000)


def test_evidence_size_near_the_bound_is_the_stdlib_encoding() -> None:
    limit = schema.EVIDENCE_MAX_BYTES
    # orjson spells 1e-05 as 0.00001: two bytes longer per number than the stdlib's encoding.
    numbers = [1e-05] * ((limit - 2) // 6)
    within = {"n": numbers[: (limit - 8) // 6]}
    assert len(schema.encode_compact(within).encode()) <= limit
    checked = schema.validate(schema.RESULT, {**_GOOD_RESULT, "evidence": within})
    assert checked["evidence"].encoded == schema.encode_compact(within)
    over = {"n": numbers + [1e-05] * 2}
    assert len(schema.encode_compact(over).encode()) > limit
    assert "at most 16384 bytes" in reason(report(results=[{**_GOOD_RESULT, "evidence": over}]))
