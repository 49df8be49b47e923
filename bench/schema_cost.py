"""What decoding and validating one report costs the server: the msgspec contract
(xunjian/core/contract/bodies.py) against an equivalent pydantic v2 model, and the hand-written
rules the server used before (server/schema.py), when they are still present.

    .venv/bin/python -m bench.schema_cost            # needs `pip install pydantic` for its row

The report is a realistic scan's: 40 results with evidence, an inventory of 200 packages and a
few addresses (about 20 KB of JSON). Each model parses the bytes and checks every bound the
contract states, the encoded size of evidence and inventory included (the store keeps that
encoding). Timed in CPU time of this process (the machine is shared: CPU time does not count
the time other processes hold the core), best and median of several rounds; docs/PERFORMANCE.md
holds the figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import time
from collections.abc import Callable
from typing import Annotated, Any

from xunjian.core import contract
from xunjian.core.contract import bodies
from xunjian.core.schema import decode_json


def sample_report(results: int = 40, packages: int = 200) -> bytes:
    statuses = ["pass", "pass", "pass", "fail", "not_applicable"]
    document = {
        "agent_id": "0b7c5a54-93a4-4d52-9d7e-6a0ec2a6c9a1",
        "epoch": 1_700_000_000_000,
        "seq": 42,
        "kind": "scan",
        "created_at": "2026-11-23T10:00:00+08:00",
        "policy_version": 3,
        "results": [
            {
                "check_id": f"bench.check_{index:02d}",
                "status": statuses[index % len(statuses)],
                "resource": "host" if index % 3 else f"user:user{index}",
                "message": f"simulated result {index} of a scan: 巡检 found what it found",
                "evidence": {
                    "value": index,
                    "detail": "x" * 40,
                    "lines": [f"/etc/example/{index}.conf:{line}" for line in range(5)],
                    "mode": "0644",
                },
                "rules": ["E8", "E16"],
                "severity": "medium",
            }
            for index in range(results)
        ],
        "inventory": {
            "hostname": "pc-101",
            "os": "Debian GNU/Linux 12",
            "kernel": "6.1.0-18-amd64",
            "addresses": ["192.168.1.101", "fe80::1"],
            "packages": [
                {"name": f"package-{index}", "version": f"1.{index}.0-1"}
                for index in range(packages)
            ],
        },
        "gaps": [{"from_seq": 10, "to_seq": 12, "reason": "spool full"}],
    }
    return json.dumps(document).encode()


def _msgspec() -> Callable[[bytes], Any]:
    return lambda body: decode_json(body, bodies.Report)


def _legacy() -> Callable[[bytes], Any] | None:
    try:
        from server import schema  # type: ignore[attr-defined]

        rule = schema.REPORT
    except (ImportError, AttributeError):
        return None
    return lambda body: schema.validate(rule, schema.parse_json(body))


def _pydantic() -> Callable[[bytes], Any] | None:
    try:
        import pydantic
        from pydantic_core import to_json
    except ImportError:
        return None
    from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

    config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def bounded(value: dict[str, Any], limit: int) -> dict[str, Any]:
        encoded = to_json(value)
        if len(encoded) > limit:
            raise ValueError(f"at most {limit} bytes encoded")
        brackets = encoded.count(b"{") + encoded.count(b"[")
        if brackets > contract.JSON_MAX_DEPTH and bodies._deeper_than(
            value, contract.JSON_MAX_DEPTH
        ):
            raise ValueError("nested too deeply")
        return value

    def whole(pattern: str) -> Any:
        return StringConstraints(pattern=f"^(?:{pattern})$")

    count = Annotated[int, Field(ge=0, le=2**53 - 1)]

    class Result(BaseModel):
        model_config = config
        check_id: Annotated[str, whole(contract.CHECK_ID_PATTERN), Field(max_length=128)]
        status: contract.Status
        resource: Annotated[str, Field(min_length=1, max_length=contract.RESOURCE_MAX)]
        message: Annotated[str, Field(max_length=contract.MESSAGE_MAX)]
        severity: contract.Severity
        evidence: dict[str, Any] = {}
        rules: Annotated[
            list[Annotated[str, whole(contract.RULE_TAG_PATTERN), Field(max_length=16)]],
            Field(max_length=contract.MAX_RULES),
        ] = []

        @field_validator("evidence")
        @classmethod
        def _evidence(cls, value: dict[str, Any]) -> dict[str, Any]:
            return bounded(value, contract.EVIDENCE_MAX_BYTES)

    class Gap(BaseModel):
        model_config = config
        from_seq: count
        to_seq: count
        reason: Annotated[str, Field(max_length=200)]

    class Report(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)  # strict refuses ISO text times
        agent_id: Annotated[str, whole(contract.UUID_PATTERN)]
        epoch: Annotated[int, Field(strict=True, ge=0, le=2**53 - 1)]
        seq: Annotated[int, Field(strict=True, ge=0, le=2**53 - 1)]
        kind: Annotated[str, Field(min_length=1, max_length=32)]
        created_at: pydantic.AwareDatetime
        policy_version: Annotated[int, Field(strict=True, ge=0)] | None = None
        results: Annotated[list[Result], Field(max_length=contract.MAX_RESULTS)]
        inventory: dict[str, Any] | None = None
        gaps: Annotated[list[Gap], Field(max_length=100)] = []

        @field_validator("inventory")
        @classmethod
        def _inventory(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
            return None if value is None else bounded(value, contract.INVENTORY_MAX_BYTES)

    return Report.model_validate_json


def _time(
    parse: Callable[[bytes], Any], body: bytes, rounds: int, per_round: int
) -> tuple[float, float]:
    """(best, median) µs per report over ``rounds`` rounds of ``per_round`` parses."""
    parse(body)
    per_report = []
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(per_round):
            parse(body)
        per_report.append((time.process_time() - started) / per_round)
    return min(per_report) * 1e6, statistics.median(per_report) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--per-round", type=int, default=500)
    options = parser.parse_args()
    body = sample_report()
    print(f"one report: {len(body)} bytes of JSON, 40 results, inventory of 200 packages")
    print(f"{'validator':<34}{'best µs':>10}{'median µs':>12}")
    candidates: list[tuple[str, Callable[[bytes], Any] | None, str]] = [
        ("msgspec (xunjian/core/contract)", _msgspec(), ""),
        ("pydantic v2 (equivalent model)", _pydantic(), "pip install pydantic"),
        ("hand-written rules (server/schema)", _legacy(), "removed (issue 10)"),
    ]
    for name, parse, missing in candidates:
        if parse is None:
            print(f"{name:<34}{'-':>10}  ({missing})")
            continue
        best, median = _time(parse, body, options.rounds, options.per_round)
        print(f"{name:<34}{best:>10.1f}{median:>12.1f}")
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    print(f"measured {now}")


if __name__ == "__main__":
    main()
