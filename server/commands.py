"""What the ``xunjian server ...`` commands of every feature share: the ``--data`` option, the
failure line, the data folder's configuration, a store session on its database, and the
command's entry in the operation log (POLICY.md E12; docs/operations.md).

Below ``server/cli.py`` (which joins the commands) and every feature's ``cli.py`` (which builds
its own); above the store and the operation log.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from server.config import DataPaths, ServerConfig, load_config
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.store import OperationLog, OplogError
from server.store.engine import make_engine, make_sessionmaker
from xunjian.core.paths import fixed_server_data


def add_data_option(parser: argparse.ArgumentParser) -> None:
    """``--data``; None when not given (``xunjian.cli.main`` fills in the default)."""
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=(
            "server data folder (default: $XUNJIAN_DATA, else the folder 'xunjian server run' "
            f"last used, else {fixed_server_data()})"
        ),
    )


def fail(message: str, command: str = "xunjian server") -> int:
    """Say what went wrong on stderr; the exit status 1."""
    print(f"{command}: {message}", file=sys.stderr)
    return 1


def open_data(args: argparse.Namespace) -> tuple[ServerConfig, DataPaths]:
    """The configuration and paths of ``--data`` (raises server.config.ConfigError)."""
    return load_config(args.data), DataPaths(args.data)


@contextlib.contextmanager
def store_session(config: ServerConfig) -> Iterator[Session]:
    """A session on the configured database for one command; the engine goes with it."""
    engine = make_engine(config.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


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


def record_command(
    config: ServerConfig,
    args: argparse.Namespace,
    action: str,
    target: str,
    details: dict[str, object] | None = None,
    refused: str = "",
) -> int:
    """Append the command's operation log entry (after its own commit); 0, or 1 with the reason
    on stderr when the entry could not be written. ``refused``: the command changed nothing, for
    this reason (which is also the failure it reports)."""
    problem = record_cli_action(
        config,
        args.data,
        action,
        target=target,
        outcome="refused" if refused else "ok",
        reason=refused,
        details=details,
    )
    if refused:
        return fail(refused if problem is None else f"{refused}; {problem}")
    if problem is not None:
        return fail(f"done, but {problem}")
    return 0
