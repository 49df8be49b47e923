"""xunjian/core/contract/: the bodies agent and server share refuse what they do not declare,
bound every field, and name the exact place of a fault (the 400's text)."""

from __future__ import annotations

import datetime
import json
from typing import Any

import msgspec
import pytest

from xunjian.core import contract
from xunjian.core.contract.bodies import EnrollRequest, Heartbeat, MonitorOutcome, Report, Result
from xunjian.core.schema import BodyError, convert, decode_json


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


def reason(document: Any, model: type = Report) -> str:
    with pytest.raises(BodyError) as caught:
        decode_json(json.dumps(document).encode(), model)
    return str(caught.value)


def test_a_minimal_report_gets_defaults_and_a_zoned_time() -> None:
    checked = decode_json(json.dumps(report()).encode(), Report)
    assert contract.utc_naive(checked.created_at) == datetime.datetime(2026, 11, 23, 2, 0, 0)
    assert checked.results[0].evidence == {} and checked.results[0].rules == []
    assert checked.results[0].evidence_json == "{}"  # type: ignore[attr-defined]
    assert checked.gaps == [] and checked.inventory is None and checked.file_events == []
    assert checked.policy_version is None and checked.inventory_json is None  # type: ignore[attr-defined]


def test_reasons_name_the_place() -> None:
    bad = report()
    bad["results"] = [bad["results"][0], {**bad["results"][0], "severity": "urgent"}]
    assert reason(bad).startswith("results[1].severity: invalid enum value 'urgent'")
    assert reason([1, 2]) == "body: expected `object`, got `array`"
    assert reason(report(gaps=[{"from_seq": 1, "to_seq": 2}])) == "gaps[0].reason: is required"


def test_evidence_depth_is_bounded() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(contract.JSON_MAX_DEPTH):
        cursor["x"] = {}
        cursor = cursor["x"]
    bad = report()
    bad["results"][0]["evidence"] = deep
    assert reason(bad) == "results[0].evidence: nested deeper than 16"
    bad["results"][0]["evidence"] = deep["x"]  # exactly 16 levels
    decode_json(json.dumps(bad).encode(), Report)


def test_evidence_size_counts_encoded_bytes() -> None:
    bad = report()
    bad["results"][0]["evidence"] = {"text": "巡" * 6000}  # 18,000 bytes in UTF-8
    assert reason(bad) == "results[0].evidence: at most 16384 bytes encoded"


@pytest.mark.parametrize("value", [True, 1.5, "1", None, 2**53])
def test_whole_numbers_only(value: Any) -> None:
    assert reason(report(seq=value)).startswith("seq: expected `int`")


def test_heartbeat_defaults_and_unknown_fields() -> None:
    assert decode_json(b"{}", Heartbeat).acked_commands == []
    assert reason({"surprise": 1}, Heartbeat) == "body: object contains unknown field `surprise`"


def test_enroll_platform_is_a_plain_word() -> None:
    document = {"token": "t", "public_key": "k", "hostname": "h", "platform": "linux; rm -rf"}
    assert reason(document, EnrollRequest).startswith("platform: expected `str` matching regex")


def test_not_json_is_a_body_error() -> None:
    with pytest.raises(BodyError, match=r"^body: not valid JSON"):
        decode_json(b"\xff\xfe", Report)


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
    ("change", "place"),
    [
        ({}, None),
        ({"evidence": {}}, None),
        ({"rules": []}, None),
        ({"check_id": ""}, "check_id"),
        ({"check_id": "A.b"}, "check_id"),
        ({"check_id": "c" * 128}, None),
        ({"check_id": "c" * 129}, "check_id"),
        ({"check_id": 5}, "check_id"),
        ({"status": "ok"}, "status"),
        ({"status": ["pass"]}, "status"),
        ({"status": None}, "status"),
        ({"resource": ""}, "resource"),
        ({"resource": "r" * 200}, None),
        ({"resource": "r" * 201}, "resource"),
        ({"message": ""}, None),
        ({"message": "m" * 1001}, "message"),
        ({"message": b"bytes"}, "message"),
        ({"severity": "urgent"}, "severity"),
        ({"evidence": None}, "evidence"),
        ({"evidence": []}, "evidence"),
        ({"evidence": {"x": "y" * 17000}}, "evidence"),
        ({"evidence": {"text": "巡" * 6000}}, "evidence"),
        ({"evidence": {"n": 1e-05, "big": 2**70}}, None),
        ({"rules": None}, "rules"),
        ({"rules": "E8"}, "rules"),
        ({"rules": [""]}, "rules[0]"),
        ({"rules": ["E" * 17]}, "rules[0]"),
        ({"rules": ["E 8"]}, "rules[0]"),
        ({"rules": [8]}, "rules[0]"),
        ({"rules": ["E8"] * 33}, "rules"),
        ({"extra": 1}, "body"),
    ],
)
def test_a_result_is_accepted_or_refused_at_its_place(
    change: dict[str, Any], place: str | None
) -> None:
    value = {**_GOOD_RESULT, **change}
    if place is None:
        assert convert(value, Result).check_id == value["check_id"]
        return
    with pytest.raises(BodyError) as caught:
        convert(value, Result)
    assert caught.value.place == place


def test_evidence_and_rules_are_optional_the_rest_required() -> None:
    for name in ("evidence", "rules"):
        convert({key: item for key, item in _GOOD_RESULT.items() if key != name}, Result)
    for name in ("check_id", "status", "resource", "message", "severity"):
        with pytest.raises(BodyError) as caught:
            convert({key: item for key, item in _GOOD_RESULT.items() if key != name}, Result)
        assert str(caught.value) == f"{name}: is required"


def test_json_bodies_are_read_exactly_and_only_json() -> None:
    body = report()
    body["results"][0]["evidence"] = {"a": 1e-05, "n": 2**64 - 1, "m": -(2**63)}
    checked = decode_json(json.dumps(body).encode(), Report)
    assert checked.results[0].evidence == {"a": 1e-05, "n": 2**64 - 1, "m": -(2**63)}
    # Past 64 bits an integer is refused wherever it is (xunjian/core/schema.py).
    body["results"][0]["evidence"] = {"n": 123456789012345678901234567890}
    with pytest.raises(BodyError, match=r"^results\[0\]\.evidence\.n: integer out of range"):
        decode_json(json.dumps(body).encode(), Report)
    # At the edges: the first integers past the bounds have 20 and 19 digits.
    for past in (2**64, -(2**63) - 1):
        body["results"][0]["evidence"] = {"n": past}
        with pytest.raises(BodyError, match=r"^results\[0\]\.evidence\.n: integer out of range"):
            decode_json(json.dumps(body).encode(), Report)
    # NaN, Infinity, UTF-16 and a byte order mark are not JSON (RFC 8259), and PostgreSQL's
    # JSONB could not store NaN anyway.
    text = json.dumps(report())
    for bad in (
        text.replace('"seq": 1', '"seq": NaN').encode(),
        text.encode("utf-16"),
        b"\xef\xbb\xbf" + text.encode(),
    ):
        with pytest.raises(BodyError, match=r"^body: not valid JSON"):
            decode_json(bad, Report)


def test_evidence_size_is_the_size_of_the_stored_encoding() -> None:
    limit = contract.EVIDENCE_MAX_BYTES
    padding = limit - len(msgspec.json.encode({"t": ""}))
    within = {"t": "x" * padding}
    checked = convert({**_GOOD_RESULT, "evidence": within}, Result)
    assert len(checked.evidence_json.encode()) == limit  # type: ignore[attr-defined]
    assert checked.evidence_json == msgspec.json.encode(within).decode()  # type: ignore[attr-defined]
    with pytest.raises(BodyError, match="at most 16384 bytes"):
        convert({**_GOOD_RESULT, "evidence": {"t": "x" * (padding + 1)}}, Result)


def test_patterns_match_the_whole_value() -> None:
    for bad in ("accounts.uid0\n", "x\nuid0"):
        with pytest.raises(BodyError) as caught:
            convert({**_GOOD_RESULT, "check_id": bad}, Result)
        assert caught.value.place == "check_id"
    assert reason(report(agent_id="0b7c5a54-93a4-4d52-9d7e-6a0ec2a6c9a1\n")).startswith(
        "agent_id: "
    )


def test_inventory_is_bounded_and_encoded_once() -> None:
    inventory = {"hostname": "pc-101", "packages": [{"name": "a"}] * 20}
    checked = decode_json(json.dumps(report(inventory=inventory)).encode(), Report)
    assert checked.inventory_json == msgspec.json.encode(inventory).decode()  # type: ignore[attr-defined]
    huge = {"x": "y" * contract.INVENTORY_MAX_BYTES}
    assert reason(report(inventory=huge)) == "inventory: at most 1048576 bytes encoded"


def test_times_carry_a_zone_and_a_plausible_year() -> None:
    assert reason(report(created_at="2026-11-23T10:00:00")).startswith("created_at: expected")
    assert reason(report(created_at="1970-01-01T00:00:00Z")) == (
        "created_at: year out of range 2000..2200"
    )
    event = {
        "action": "created",
        "path": "/var/www/a.php",
        "folder": "/var/www",
        "folder_kind": "web_root",
        "observed_at": "2026-11-23T10:00:00Z",
        "mtime": "1999-12-31T23:59:59Z",
    }
    assert reason(report(file_events=[event])) == (
        "file_events[0].mtime: year out of range 2000..2200"
    )


def test_an_outcome_without_a_status_must_say_why() -> None:
    outcome = {
        "monitor_id": 1,
        "checked_at": "2026-11-23T10:00:00Z",
        "url": "http://intranet/",
        "status": None,
        "ms": 5,
    }
    assert reason(outcome, MonitorOutcome) == "error: a fetch without a status must say why"
    checked = convert({**outcome, "error": "refused", "body": "aGk="}, MonitorOutcome)
    assert checked.body == b"hi"
    assert reason({**outcome, "url": "ftp://intranet/"}, MonitorOutcome).startswith("url: ")


def test_the_check_librarys_copy_of_the_result_values_is_the_contracts() -> None:
    """checks/model.py spells the values again (it imports only the stdlib, and the idle agent
    does not load it): they may never differ."""
    from checks import model

    assert tuple(model.Status) == contract.STATUSES
    assert tuple(model.Severity) == contract.SEVERITIES
    assert model.MAX_RESOURCE_CHARS == contract.RESOURCE_MAX
    assert model.MAX_MESSAGE_CHARS == contract.MESSAGE_MAX
    assert model.MAX_EVIDENCE_BYTES == contract.EVIDENCE_MAX_BYTES
    assert model.MAX_MESSAGE_PARAMS == contract.MESSAGE_PARAMS_MAX
    assert model.MAX_MESSAGE_PARAM_CHARS == contract.MESSAGE_PARAM_MAX
