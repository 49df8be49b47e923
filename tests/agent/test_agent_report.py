"""agent/report.py fits results to the contract before they are spooled, so the server (which
decodes with the same contract) never refuses a whole report for one odd result."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from agent.report import fit_inventory, fit_result, fit_results, report_content
from xunjian.core import contract
from xunjian.core.contract import bodies
from xunjian.core.schema import convert, decode_json

RAW: dict[str, Any] = {
    "check_id": "accounts.uid0_extra",
    "status": "fail",
    "resource": "user:toor",
    "message": "account toor has UID 0",
    "severity": "high",
    "evidence": {"uid": 0},
    "rules": ["E8"],
}


def test_a_fitted_result_passes_the_contract() -> None:
    odd = {
        **RAW,
        "status": "weird",
        "severity": "urgent",
        "resource": "",
        "message": "m" * 5000,
        "evidence": {"ratio": math.nan, "big": math.inf, "when": object()},
        "rules": ["E8", "E" * 17, "E 8", 5],
        "extra": True,
    }
    fitted = fit_result(odd)
    assert fitted is not None
    checked = convert(fitted, bodies.Result)
    assert checked.status == "error" and checked.severity == "medium"
    assert checked.resource == "host" and len(checked.message) == contract.MESSAGE_MAX
    assert checked.evidence["ratio"] is None and checked.evidence["big"] is None
    assert checked.rules == ["E8"]
    # What the agent sends (json.dumps) is JSON the server reads: NaN became null.
    decode_json(json.dumps({**RAW, **fitted}).encode(), bodies.Result)


def test_evidence_over_the_limit_becomes_a_note() -> None:
    fitted = fit_result({**RAW, "evidence": {"text": "巡" * 6000}})
    assert fitted is not None and fitted["evidence"]["truncated"] is True
    convert(fitted, bodies.Result)


def test_a_malformed_check_id_drops_the_result() -> None:
    assert fit_result({**RAW, "check_id": "Bad Id"}) is None
    assert fit_result("not a result") is None


def test_results_beyond_the_limit_keep_the_urgent_ones() -> None:
    passing = [{**RAW, "status": "pass", "check_id": f"c.{n}"} for n in range(contract.MAX_RESULTS)]
    fitted = fit_results([*passing, {**RAW, "check_id": "c.failing"}])
    assert len(fitted) == contract.MAX_RESULTS and fitted[0]["check_id"] == "c.failing"


def test_an_inventory_over_the_limit_becomes_a_note() -> None:
    fitted = fit_inventory({"blob": "x" * contract.INVENTORY_MAX_BYTES})
    assert fitted is not None and fitted["truncated"] is True
    assert fit_inventory({"hostname": "pc-101", "load": math.nan}) == {
        "hostname": "pc-101",
        "load": None,
    }


def test_evidence_is_measured_as_the_server_measures_it() -> None:
    # The stdlib spells 1e-05 in 5 bytes, the contract's encoding (0.00001) in 7: a list of them
    # that the stdlib would fit in 16 KiB is over the limit for the server, and is cut here.
    floats = [1e-05] * ((contract.EVIDENCE_MAX_BYTES - 20) // 6)
    assert len(json.dumps({"n": floats}, separators=(",", ":"))) < contract.EVIDENCE_MAX_BYTES
    fitted = fit_result({**RAW, "evidence": {"n": floats}})
    assert fitted is not None and fitted["evidence"]["truncated"] is True
    convert(fitted, bodies.Result)


def test_the_reports_platform_comes_from_the_inventory_fitted_to_the_contract() -> None:
    """What the scanned host runs goes out as the report's ``platform``, cut to the contract's
    limits, so the server's decoder takes it; an inventory without a usable platform sends none
    (the server then keeps what it knew) rather than a report the server would refuse."""
    inventory = {
        "platform": "windows",
        "os": "Windows 11 Pro" + "x" * 400,
        "os_version": "24H2",
        "os_build": "26100." + "7" * 100,
    }
    content = report_content([], inventory, 3, "2026-12-07T04:00:00Z")
    platform = content["platform"]
    assert platform["name"] == "windows" and platform["version"] == "24H2"
    assert len(platform["os"]) == contract.OS_NAME_MAX
    assert len(platform["build"]) == contract.OS_BUILD_MAX
    document = {"agent_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12, "epoch": 1, "seq": 1}
    document.update(kind="scan", **content)
    decoded = decode_json(json.dumps(document).encode(), bodies.Report)
    assert decoded.platform is not None and decoded.platform.name == "windows"
    for unusable in ({"platform": "Windows 11"}, {"platform": 7}, {}, None):
        assert "platform" not in report_content([], unusable, 3, "2026-12-07T04:00:00Z")


def test_a_file_name_that_is_not_utf8_reaches_the_server_readable(tmp_path: Path) -> None:
    """Linux names are bytes: a world-writable script whose name is not UTF-8 once made the
    agent's whole report fail (surrogate escapes cannot be encoded). The real check finds it on
    a tree, the result goes the agent's way (the scan worker's JSON, fitting, the transport's
    UTF-8), the server's contract decodes it, and the name reads with a ``\\xff`` escape."""
    from checks.api import run_scan

    folder = tmp_path / "usr/local/bin"
    folder.mkdir(parents=True)
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=debian\nVERSION_ID=12\n")
    name = bytes(folder) + b"/backup-\xff.sh"
    with open(name, "wb") as script:
        script.write(b"#!/bin/sh\n")
    os.chmod(name, 0o777)
    raw = run_scan(root=tmp_path)
    handed_over = json.loads(json.dumps(raw, default=str))  # agent/scan_worker.py's stdout
    content = report_content(handed_over, None, None, "2026-12-07T10:00:00+00:00")
    sent = json.dumps(content["results"], ensure_ascii=False).encode("utf-8")  # the transport's
    results = [decode_json(json.dumps(r).encode(), bodies.Result) for r in json.loads(sent)]
    [writable] = [r for r in results if r.check_id == "files.world_writable"]
    assert writable.status == "fail"
    assert "/usr/local/bin/backup-\\xff.sh" in json.dumps(writable.evidence) + writable.resource


def test_text_that_is_not_utf8_is_escaped_and_valid_text_is_kept() -> None:
    from agent.report import readable_text

    assert readable_text("学校/web-\udcff.php") == "学校/web-\\xff.php"
    assert readable_text("plain 学校") == "plain 学校"
    assert readable_text("lone \ud800") == "lone \\ud800"  # not an escaped byte
    odd = fit_result({**RAW, "resource": "file:/tmp/\udcfe", "evidence": {"\udcff": ["\udc80"]}})
    assert odd is not None
    checked = convert(odd, bodies.Result)
    assert checked.resource == "file:/tmp/\\xfe" and checked.evidence == {"\\xff": ["\\x80"]}
