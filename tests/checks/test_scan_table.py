"""The ``xunjian scan`` table (issue 13 item 11): failures first and by severity, the severity
shown, a long resource wrapped and never cut, ``--failed`` for the failures only; and the same
through the real command on a host tree."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from checks.cli import render_table

LONG = "program:/root/.pyenv/versions/3.12.7/lib/python3.12/site-packages/some/tool/bin/server"


def result(check_id: str, status: str, severity: str, resource: str = "host") -> dict:
    return {
        "check_id": check_id,
        "status": status,
        "severity": severity,
        "resource": resource,
        "message": f"{check_id} {status}",
    }


RESULTS = [
    result("a.pass", "pass", "critical"),
    result("b.low", "fail", "low"),
    result("c.na", "not_applicable", "high"),
    result("d.critical", "fail", "critical", LONG),
    result("e.error", "error", "high"),
    result("f.high", "fail", "high"),
]


def table(failed_only: bool = False) -> list[str]:
    out = io.StringIO()
    render_table(RESULTS, out, failed_only=failed_only)
    return out.getvalue().splitlines()


def test_failures_first_by_severity_with_the_severity_shown() -> None:
    lines = table()
    assert lines[0].split()[:5] == ["SEVERITY", "STATUS", "CHECK", "RESOURCE", "MESSAGE"]
    firsts = [
        line.split()[2]
        for line in lines[1:]
        if line and line.split()[0] in ("critical", "high", "medium", "low", "info")
    ]
    assert firsts == ["d.critical", "f.high", "b.low", "e.error", "a.pass", "c.na"]
    assert lines[1].startswith("critical  fail")


def test_a_long_resource_is_wrapped_whole() -> None:
    lines = table()
    start = next(i for i, line in enumerate(lines) if "d.critical" in line)
    continued = []
    for line in lines[start : start + 4]:
        at = lines[0].index("RESOURCE")
        continued.append(line[at:].split("  ")[0].strip())
    assert "".join(continued).startswith(LONG)
    assert "…" not in "\n".join(lines)


def test_failed_only() -> None:
    lines = table(failed_only=True)
    checks = {line.split()[2] for line in lines[1:] if line.startswith(("critical", "high", "low"))}
    assert checks == {"d.critical", "f.high", "b.low"}
    assert lines[-1].startswith("6 results: ")  # the summary still counts every result
    assert lines[-1].endswith("(only the 3 failures shown)")


def test_the_command_takes_failed(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "xunjian.cli", "scan", "--root", str(tmp_path), "--failed"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1), done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["SEVERITY", "STATUS"]
    statuses = {
        line.split()[1]
        for line in lines[1:-2]
        if len(line.split()) > 1 and not line.startswith(" ")
    }
    assert statuses <= {"fail"}
    assert "failures shown)" in lines[-1]
