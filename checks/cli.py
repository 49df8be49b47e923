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
_COLUMNS = ("check", "status", "resource", "message")
_WIDTH_LIMITS = {"check": 32, "status": 14, "resource": 32}


def add_arguments(scan: argparse.ArgumentParser) -> None:
    """The options of ``xunjian scan``."""
    scan.add_argument("--json", action="store_true", help="print a JSON list of results")
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


def _fit(text: str, width: int) -> str:
    if _display_width(text) <= width:
        return text + " " * (width - _display_width(text))
    cut = ""
    for ch in text:
        if _display_width(cut + ch) > width - 1:
            break
        cut += ch
    return cut + "…" + " " * (width - 1 - _display_width(cut))


def render_table(results: list[dict[str, Any]], out: TextIO) -> None:
    rows = [
        (r["check_id"], r["status"], r["resource"], r["message"].replace("\n", " "))
        for r in results
    ]
    widths = [
        min(
            max([_display_width(str(row[i])) for row in rows] + [len(_COLUMNS[i])]),
            _WIDTH_LIMITS.get(_COLUMNS[i], 10_000),
        )
        for i in range(3)
    ]
    header = "  ".join(_fit(name.upper(), widths[i]) for i, name in enumerate(_COLUMNS[:3]))
    out.write(f"{header}  {_COLUMNS[3].upper()}\n")
    for row in rows:
        cells = "  ".join(_fit(str(row[i]), widths[i]) for i in range(3))
        out.write(f"{cells}  {row[3]}\n")
    counts = Counter(r["status"] for r in results)
    summary = ", ".join(f"{counts[s.value]} {s.value}" for s in Status if counts[s.value])
    out.write(f"\n{len(results)} results: {summary or 'none'}\n")


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
        render_table(results, sys.stdout)
    failed = any(result["status"] == Status.FAIL.value for result in results)
    return EXIT_FAILED if failed else EXIT_OK
