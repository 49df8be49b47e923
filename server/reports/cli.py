"""The weekly report commands (POLICY.md A4), their parsers and what they run:

* ``xunjian server report weekly --week YYYY-Www --format csv|xlsx|json --out FILE [--data DIR]``
  (``add_parser``, under ``xunjian server``);
* ``xunjian report verify FILE [--public-key PUB]`` (``add_verify_arguments``, a top command):
  offline, on an auditor's machine, importing neither Flask nor SQLAlchemy
  (``server/reports/verify.py``). So this module imports nothing of the server's dependencies
  at its top: ``weekly_command`` imports them when it runs.

Exit status 0 when the file is written and the export is in the operation log; 1 otherwise,
with the reason. An export the log could not record is deleted again (POLICY.md A1: every
export of audit data is registered).
"""

from __future__ import annotations

import argparse
import datetime
import re
import sys
from pathlib import Path

EXPORT_ACTION = "report.export"
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


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``report weekly`` under ``xunjian server``."""
    from server.commands import add_data_option

    report = subparsers.add_parser("report", help="weekly scan reports for auditors (POLICY.md A4)")
    rsub = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    p = rsub.add_parser(
        "weekly", help="every host and check of one ISO week, failures first, to a file"
    )
    add_data_option(p)
    p.add_argument(
        "--week",
        type=_week,
        default=None,
        help="ISO week such as 2026-W47 (default: the last complete week, server local time)",
    )
    p.add_argument("--format", choices=REPORT_FORMATS, required=True, help="file format")
    p.add_argument("--out", type=Path, required=True, help="file to write (created 0600)")
    p.add_argument(
        "--language",
        choices=("zh", "en"),
        default=None,
        help="CSV and XLSX in this language (default: console_language in config.json)",
    )
    p.set_defaults(handler=weekly_command)


def add_verify_arguments(report: argparse.ArgumentParser) -> None:
    """``verify`` under the top command ``xunjian report``."""
    tsub = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    p = tsub.add_parser("verify", help="verify a signed JSON weekly report; 1 if changed")
    p.add_argument("file", type=Path, help="the weekly report (.json)")
    p.add_argument(
        "--public-key",
        type=Path,
        default=None,
        help="the server's report-signing.pub (default: trust the key inside the file and "
        "print its fingerprint)",
    )
    p.set_defaults(handler=_verify)


def _verify(args: argparse.Namespace) -> int:
    from server.reports.verify import verify_command

    return verify_command(args)


def _fail(message: str) -> int:
    print(f"xunjian server report: {message}", file=sys.stderr)
    return 1


def weekly_command(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from server.commands import cli_actor
    from server.config import ConfigError, load_config
    from server.oplog.chain import EntryFields
    from server.oplog.settings import OplogSettings
    from server.oplog.signing import SigningKeyError
    from server.oplog.store import OperationLog, OplogError
    from server.reports.generate import export_to
    from server.reports.week import IsoWeek, WeekError, last_complete_week, zone_of
    from server.store.engine import make_engine
    from server.store.models import utcnow

    data: Path = args.data
    out: Path = args.out
    try:
        config = load_config(data)
        settings = OplogSettings.from_config(config)
        zone = zone_of(config)
        week = IsoWeek.parse(args.week) if args.week else last_complete_week(utcnow(), zone)
    except (ConfigError, WeekError, ValueError) as exc:
        return _fail(str(exc))
    if out.is_dir():
        return _fail(f"--out {out} is a folder; name the file to write")
    if not out.parent.is_dir():
        return _fail(f"--out {out}: the folder {out.parent} does not exist")
    actor = cli_actor()
    engine = make_engine(config.database_url)
    try:
        language = args.language or config.console_language
        built = export_to(engine, data, week, zone, args.format, out, actor, language)
        try:
            OperationLog(engine, data, settings).append(
                EntryFields.make(
                    EXPORT_ACTION,
                    actor=actor,
                    role="cli",
                    target=f"week:{week}",
                    details={
                        "format": args.format,
                        "via": "cli",
                        "hosts": built.summary["hosts"],
                        "rows": built.rows,
                        "out": str(out.resolve())[:300],
                        "report_sha256": built.report_sha256 or None,
                    },
                )
            )
        except (SQLAlchemyError, OplogError, SigningKeyError, OSError) as exc:
            out.unlink(missing_ok=True)
            return _fail(
                f"the export could not be recorded in the operation log, so {out} "
                f"was removed again: {exc}"
            )
    except (SQLAlchemyError, SigningKeyError, OSError) as exc:
        return _fail(f"cannot build the report for {week}: {exc}")
    finally:
        engine.dispose()
    summary = built.summary
    state = "" if built.meta["complete"] else " (the week is not over yet: partial)"
    print(
        f"weekly report {week}{state} as {args.format}: {summary['hosts']} hosts "
        f"({summary['hosts_silent']} sent nothing), {built.rows} rows, "
        f"{summary['failed']} failed results; written to {out}"
    )
    if args.format == "json":
        print(f"signed by key {built.key_id}; check it with: xunjian report verify {out}")
    return 0
