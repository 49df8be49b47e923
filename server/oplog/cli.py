"""``xunjian server oplog verify|purge``: the parser (``add_parser``) and the commands.

Exit status 0 when the log is intact / the purge is done; 1 otherwise, with the reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from server.commands import add_data_option, cli_actor
from server.config import ConfigError, load_config, local_time
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.signing import ANCHORS_NAME, SigningKeyError, verification_key
from server.oplog.store import OperationLog, OplogError
from server.oplog.verify import verify_log
from server.settings.runtime import effective_settings
from server.store.engine import make_engine


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``oplog`` under ``xunjian server``."""
    oplog = subparsers.add_parser("oplog", help="the tamper-evident operation log")
    osub = oplog.add_subparsers(dest="oplog_command", required=True, metavar="COMMAND")
    p = osub.add_parser("verify", help="check every entry and signed checkpoint; 1 if damaged")
    add_data_option(p)
    p.add_argument(
        "--public-key",
        type=Path,
        default=None,
        help="verify checkpoints with this key (default: DATA/oplog-signing.pub)",
    )
    p.add_argument(
        "--anchors",
        type=Path,
        default=None,
        help=f"compare with this anchor file (default: DATA/{ANCHORS_NAME})",
    )
    p.set_defaults(handler=verify_command)
    p = osub.add_parser("purge", help="delete entries older than oplog_retention_days (logged)")
    add_data_option(p)
    p.set_defaults(handler=purge_command)


def _fail(message: str) -> int:
    print(f"xunjian server oplog: {message}", file=sys.stderr)
    return 1


def verify_command(args: argparse.Namespace) -> int:
    data: Path = args.data
    public_key_file: Path | None = getattr(args, "public_key", None)
    try:
        config = load_config(data)
        key = verification_key(data, public_key_file)
    except (ConfigError, SigningKeyError) as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        anchors: Path = getattr(args, "anchors", None) or data / ANCHORS_NAME
        verdict = verify_log(engine, key, anchors)
    except SQLAlchemyError as exc:
        return _fail(f"cannot read the operation log: {exc}")
    finally:
        engine.dispose()
    if not verdict.ok:
        print(f"operation log DAMAGED: {verdict.problem}")
        if verdict.bad_seq is not None:
            print(f"first bad entry: {verdict.bad_seq}")
        return 1
    span = f"entries {verdict.first_seq}..{verdict.last_seq}" if verdict.entries else "no entries"
    print(f"operation log intact: {verdict.entries} entries ({span})")
    checkpoint = verdict.last_checkpoint
    if checkpoint is None:
        print("last checkpoint: none yet")
    else:
        print(
            f"last checkpoint: entry {checkpoint.seq}, {checkpoint.kind}, signed "
            f"{_checkpoint_time(checkpoint.at, config.console_timezone)} "
            f"by key {checkpoint.key_id[:16]}"
        )
        unsigned = verdict.last_seq - checkpoint.seq
        if unsigned > 0:
            print(f"{unsigned} newer entries are chained but not yet signed")
    if verdict.anchor_seq:
        print(f"entries up to {verdict.anchor_seq} were purged (signed anchor)")
    return 0


def _checkpoint_time(stored: str, zone: str) -> str:
    """The checkpoint's time (ISO, naive UTC) in the console's zone, named (issue 13 item 6)."""
    try:
        return local_time(datetime.datetime.fromisoformat(stored), zone, seconds=True, named=True)
    except ValueError:
        return f"{stored} UTC"


def purge_command(args: argparse.Namespace) -> int:
    data: Path = args.data
    try:
        config = load_config(data)
        settings = OplogSettings.from_config(config)
    except (ConfigError, ValueError) as exc:
        return _fail(str(exc))
    engine = make_engine(config.database_url)
    try:
        # The retention in force: the console's run-time setting, else config.json's.
        with Session(engine) as session:
            retention = effective_settings(session, config).oplog_retention_days
        settings = dataclasses.replace(settings, retention_days=retention)
        log = OperationLog(engine, data, settings)
        result = log.purge(EntryFields.make("oplog.purge", actor=cli_actor(), role="system"))
    except (SQLAlchemyError, SigningKeyError, OplogError, OSError) as exc:
        return _fail(f"purge failed, nothing was deleted: {exc}")
    finally:
        engine.dispose()
    print(
        f"purged {result.purged} operation log entries older than "
        f"{local_time(result.cutoff, config.console_timezone, named=True)} "
        f"({settings.retention_days} days); "
        f"the log now starts after entry {result.through_seq}, "
        f"and the purge is entry {result.entry.seq}"
    )
    return 0
