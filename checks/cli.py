"""`xunjian scan`: run every applicable check on this machine now, without a server (the
parser, ``add_arguments``, and the command)."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from checks.api import run_scan
from checks.model import Status

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
_COLUMNS = ("severity", "status", "check", "resource", "message")
# Widths of the columns before the message; a longer resource wraps onto lines of its own
# (cutting it hid the very path a person has to look at).
_WIDTH_LIMITS = {"severity": 8, "status": 14, "check": 36, "resource": 40}
# What a person acts on first: failures, then what could not be judged, then the rest; within
# each, the most severe first.
_STATUS_ORDER = ("fail", "error", "no_privilege", "pass", "not_applicable")
_SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


def add_arguments(scan: argparse.ArgumentParser) -> None:
    """The options of ``xunjian scan``."""
    scan.add_argument("--json", action="store_true", help="print a JSON list of results")
    scan.add_argument(
        "--failed", action="store_true", help="show only the failures (the summary counts all)"
    )
    scan.add_argument(
        "--root",
        type=Path,
        default=None,
        help="read the host's files under this folder instead of / (commands are not run)",
    )
    scan.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="a policy JSON file (as the server sends it) for check parameters and approved lists",
    )
    scan.set_defaults(handler=scan_command)


def _display_width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _display_width(text), 0)


def _wrap(text: str, width: int) -> list[str]:
    """``text`` in pieces of at most ``width`` display columns, nothing left out."""
    pieces, piece = [], ""
    for ch in text:
        if piece and _display_width(piece + ch) > width:
            pieces.append(piece)
            piece = ""
        piece += ch
    return [*pieces, piece]


def _rank(result: dict[str, Any]) -> tuple[int, int, str, str]:
    status, severity = result.get("status", ""), result.get("severity", "")
    return (
        _STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER),
        _SEVERITY_ORDER.index(severity) if severity in _SEVERITY_ORDER else len(_SEVERITY_ORDER),
        str(result.get("check_id", "")),
        str(result.get("resource", "")),
    )


def render_table(results: list[dict[str, Any]], out: TextIO, failed_only: bool = False) -> None:
    shown = sorted(
        (r for r in results if not failed_only or r["status"] == Status.FAIL.value), key=_rank
    )
    rows = [
        (
            str(r.get("severity", "")),
            r["status"],
            r["check_id"],
            str(r["resource"]),
            r["message"].replace("\n", " "),
        )
        for r in shown
    ]
    widths = [
        min(
            max([_display_width(row[i]) for row in rows] + [len(_COLUMNS[i])]),
            _WIDTH_LIMITS[_COLUMNS[i]],
        )
        for i in range(4)
    ]
    header = "  ".join(_pad(name.upper(), widths[i]) for i, name in enumerate(_COLUMNS[:4]))
    out.write(f"{header}  {_COLUMNS[4].upper()}\n")
    for row in rows:
        columns = [_wrap(row[i], widths[i]) for i in range(4)]
        for line in range(max(len(pieces) for pieces in columns)):
            cells = "  ".join(
                _pad(pieces[line] if line < len(pieces) else "", widths[i])
                for i, pieces in enumerate(columns)
            )
            message = row[4] if line == 0 else ""
            out.write(f"{cells}  {message}".rstrip() + "\n")
    counts = Counter(r["status"] for r in results)
    summary = ", ".join(f"{counts[s.value]} {s.value}" for s in Status if counts[s.value])
    hidden = f" (only the {len(rows)} failures shown)" if failed_only else ""
    out.write(f"\n{len(results)} results: {summary or 'none'}{hidden}\n")


# A policy file is small; a larger one is a mistake (the wrong file), not a policy.
MAX_POLICY_BYTES = 4 * 1024 * 1024


class PolicyFileError(ValueError):
    """--policy names a file that is not a policy; the message says why."""


def load_policy_checks(path: Path) -> dict[str, Any]:
    """The ``checks`` part of a policy file: the document ``GET /api/v1/agent/policy`` returns
    (an agent keeps it as ``policy.json``), or just its ``checks`` object."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        raise PolicyFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyFileError(f"{path} is larger than {MAX_POLICY_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyFileError(f"{path} is not JSON: {exc}") from exc
    checks = document.get("checks", document) if isinstance(document, dict) else None
    if not isinstance(checks, dict) or not all(isinstance(v, dict) for v in checks.values()):
        raise PolicyFileError(
            f'{path} must hold {{"checks": {{CHECK_ID: {{"enabled": ..., "params": ...}}}}}}'
        )
    return checks


def scan_command(args: argparse.Namespace) -> int:
    root: Path | None = args.root
    if root is not None and not root.is_dir():
        print(f"xunjian scan: --root {root} is not a directory", file=sys.stderr)
        return EXIT_USAGE
    policy_checks: dict[str, Any] | None = None
    if getattr(args, "policy", None) is not None:
        try:
            policy_checks = load_policy_checks(args.policy)
        except PolicyFileError as exc:
            print(f"xunjian scan: --policy: {exc}", file=sys.stderr)
            return EXIT_USAGE
    results = run_scan(policy_checks, root=root)
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        render_table(results, sys.stdout, failed_only=getattr(args, "failed", False))
    failed = any(result["status"] == Status.FAIL.value for result in results)
    return EXIT_FAILED if failed else EXIT_OK
