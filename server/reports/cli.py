"""Body of ``xunjian server report weekly`` (the parsing is in ``xunjian/cli_reports.py``).

Exit status 0 when the file is written and the export is in the operation log; 1 otherwise,
with the reason. An export the log could not record is deleted again (POLICY.md A1: every
export of audit data is registered).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from server.config import ConfigError, load_config
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.signing import SigningKeyError
from server.oplog.store import OperationLog, OplogError
from server.reports.generate import export_to
from server.reports.week import IsoWeek, WeekError, last_complete_week, zone_of
from server.store.engine import make_engine
from server.store.models import utcnow

EXPORT_ACTION = "report.export"


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (e.g. a container)
        return "cli:unknown"


def _fail(message: str) -> int:
    print(f"xunjian server report: {message}", file=sys.stderr)
    return 1


def weekly_command(args: argparse.Namespace) -> int:
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
    actor = _cli_actor()
    engine = make_engine(config.database_url)
    try:
        built = export_to(engine, data, week, zone, args.format, out, actor)
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
