"""Bodies of ``xunjian server oplog verify|purge`` (the parsing is in ``xunjian/cli.py``).

Exit status 0 when the log is intact / the purge is done; 1 otherwise, with the reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from server.config import ConfigError, ServerConfig, load_config
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.signing import SigningKeyError, verification_key
from server.oplog.store import OperationLog, OplogError
from server.oplog.verify import verify_log
from server.settings.runtime import effective_settings
from server.store.engine import make_engine


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
        verdict = verify_log(engine, key)
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
            f"{checkpoint.at} UTC by key {checkpoint.key_id[:16]}"
        )
        unsigned = verdict.last_seq - checkpoint.seq
        if unsigned > 0:
            print(f"{unsigned} newer entries are chained but not yet signed")
    if verdict.anchor_seq:
        print(f"entries up to {verdict.anchor_seq} were purged (signed anchor)")
    return 0


def cli_actor() -> str:
    """``cli:<operating system user>``: who ran a ``xunjian server`` command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (e.g. a container)
        return "cli:unknown"


def record_cli_action(
    config: ServerConfig,
    data: Path,
    action: str,
    *,
    target: str = "",
    outcome: str = "ok",
    reason: str = "",
    details: Mapping[str, Any] | None = None,
) -> str | None:
    """Append the entry for a command that changed (or refused to change) the server's state:
    actor ``cli:<os user>``, role ``cli``, no address (the command ran on the server itself).
    Call it after the command's own commit. Returns None, or why the entry is missing."""
    engine = make_engine(config.database_url)
    try:
        log = OperationLog(engine, data, OplogSettings.from_config(config))
        log.append(
            EntryFields.make(
                action,
                actor=cli_actor(),
                role="cli",
                target=target,
                outcome=outcome,
                reason=reason,
                details=details,
            )
        )
    except (SQLAlchemyError, OplogError, OSError, ValueError) as exc:
        return f"the operation log entry {action} could not be written: {exc}"
    finally:
        engine.dispose()
    return None


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
        f"{result.cutoff:%Y-%m-%d %H:%M} UTC ({settings.retention_days} days); "
        f"the log now starts after entry {result.through_seq}, "
        f"and the purge is entry {result.entry.seq}"
    )
    return 0
