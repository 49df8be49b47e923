"""Parsers of the weekly report commands (POLICY.md A4); the bodies live in ``server.reports``.

* ``xunjian server report weekly --week YYYY-Www --format csv|xlsx|json --out FILE [--data DIR]``
* ``xunjian report verify FILE [--public-key PUB]``: offline, imports neither Flask nor
  SQLAlchemy (``server/reports/verify.py``).

Imports nothing of the server at module level (the agent's layering test imports every module
of this package).
"""

from __future__ import annotations

import argparse
import datetime
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

WEEK = re.compile(r"[0-9]{4}-W[0-9]{2}")
REPORT_FORMATS = ("csv", "xlsx", "json")


def _week(text: str) -> str:
    """An ISO week name that exists (2026-W53 does, 2025-W53 does not)."""
    if not WEEK.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"a week is written YYYY-Www (ISO week), e.g. 2026-W47; got {text[:20]!r}"
        )
    year, week = int(text[:4]), int(text[6:])
    try:
        datetime.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{year} has no ISO week {week:02d}") from None
    if year < 2000:
        raise argparse.ArgumentTypeError(f"the year of a week must be 2000 or later; got {year}")
    return text


def add_parsers(
    sub: argparse._SubParsersAction,
    ssub: argparse._SubParsersAction,
    add_data: Callable[[argparse.ArgumentParser], None],
    lazy: Callable[[str], Any],
) -> None:
    """``sub``: the top-level commands; ``ssub``: those under ``xunjian server``; ``add_data``
    and ``lazy`` are xunjian/cli.py's ``--data`` option and lazy handler."""
    report = ssub.add_parser("report", help="weekly scan reports for auditors (POLICY.md A4)")
    rsub = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    p = rsub.add_parser(
        "weekly", help="every host and check of one ISO week, failures first, to a file"
    )
    add_data(p)
    p.add_argument(
        "--week",
        type=_week,
        default=None,
        help="ISO week such as 2026-W47 (default: the last complete week, server local time)",
    )
    p.add_argument("--format", choices=REPORT_FORMATS, required=True, help="file format")
    p.add_argument("--out", type=Path, required=True, help="file to write (created 0600)")
    p.set_defaults(handler=lazy("server.reports.cli:weekly_command"))

    top = sub.add_parser("report", help="check reports the server signed, offline")
    tsub = top.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    p = tsub.add_parser("verify", help="verify a signed JSON weekly report; 1 if changed")
    p.add_argument("file", type=Path, help="the weekly report (.json)")
    p.add_argument(
        "--public-key",
        type=Path,
        default=None,
        help="the server's report-signing.pub (default: trust the key inside the file and "
        "print its fingerprint)",
    )
    p.set_defaults(handler=lazy("server.reports.verify:verify_command"))
