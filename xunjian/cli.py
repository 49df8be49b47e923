"""The ``xunjian`` command: the top of the command line. It names the top commands; each one's
owner builds the rest of its parser with the functions it runs (``add_arguments``):
``server/cli.py`` (which asks every feature's ``cli.py`` for its commands), ``agent/cli.py``,
``checks/cli.py``, ``xunjian/deploy/command.py``, ``xunjian/msi/cli.py`` (``build``),
``server/reports/cli.py`` (``report verify``), ``xunjian/cli_evidence.py`` (``evidence
verify``) and ``xunjian/demo.py``.

Only the command being run is built, so ``xunjian agent ...`` and ``xunjian scan`` never import
the server's dependencies (tests/test_layering.py).

Exit status: 0 success, 1 a failure the command reports (a failed check, a refused request),
2 a usage error (argparse's own convention).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xunjian import __version__
from xunjian.core.paths import (
    POINTER_ENV,
    default_agent_state,
    default_server_data,
    server_pointer,
)

# Top-level packages only the server's install has (pyproject's "server" extra).
SERVER_ONLY = frozenset({"flask", "sqlalchemy", "alembic", "argon2", "cheroot", "psycopg"})


def _server(parser: argparse.ArgumentParser) -> None:
    try:
        from server.cli import add_arguments
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_ONLY:
            raise
        parser.error(f"needs the server's install (pip install 'xunjian[server]'): {exc}")
    add_arguments(parser)


def _agent(parser: argparse.ArgumentParser) -> None:
    from agent.cli import add_arguments

    add_arguments(parser)


def _scan(parser: argparse.ArgumentParser) -> None:
    from checks.cli import add_arguments

    add_arguments(parser)


def _deploy(parser: argparse.ArgumentParser) -> None:
    from xunjian.deploy.command import add_arguments

    add_arguments(parser)


def _report(parser: argparse.ArgumentParser) -> None:
    from server.reports.cli import add_verify_arguments

    add_verify_arguments(parser)


def _evidence(parser: argparse.ArgumentParser) -> None:
    from xunjian.cli_evidence import add_arguments

    add_arguments(parser)


def _build(parser: argparse.ArgumentParser) -> None:
    from xunjian.msi.cli import add_arguments

    add_arguments(parser)


def _demo(parser: argparse.ArgumentParser) -> None:
    from xunjian.demo import add_arguments

    add_arguments(parser)


@dataclass(frozen=True)
class TopCommand:
    name: str
    help: str
    build: Callable[[argparse.ArgumentParser], None]  # imports its owner when called


COMMANDS: tuple[TopCommand, ...] = (
    TopCommand("server", "the central server", _server),
    TopCommand("report", "check reports the server signed, offline", _report),
    TopCommand("evidence", "check evidence archives agents signed, offline", _evidence),
    TopCommand("agent", "the endpoint agent", _agent),
    TopCommand("scan", "run every applicable check on this machine now", _scan),
    TopCommand("deploy", "install the agent on hosts (run on the server's host)", _deploy),
    TopCommand("build", "build the agent's Windows installer (MSI) on Linux", _build),
    TopCommand("demo", "server on SQLite plus a local agent, console on loopback", _demo),
)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line; with ``command``, only that top command is built in full (the others
    are listed with their help, as ``xunjian --help`` shows them)."""
    parser = argparse.ArgumentParser(prog="xunjian", description="巡检 xunjian")
    parser.add_argument("--version", action="version", version=f"xunjian {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for top in COMMANDS:
        top_parser = sub.add_parser(top.name, help=top.help)
        if command is None or command == top.name:
            top.build(top_parser)
    return parser


def data_source() -> str:
    """Why the data folder was taken without --data: said on stderr, so nobody works on
    another folder than they think."""
    if os.environ.get("XUNJIAN_DATA"):
        return "from $XUNJIAN_DATA"
    return (
        f"the one 'xunjian server run' last used, named in {server_pointer()}"
        f"{' ($' + POINTER_ENV + ')' if os.environ.get(POINTER_ENV) else ''}; --data to choose"
    )


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    # The first word names the command (the top's only options, --help and --version, exit).
    chosen = words[0] if words and not words[0].startswith("-") else ""
    args = build_parser(chosen).parse_args(words)
    if getattr(args, "data", "missing") is None:
        # ``server init`` makes a folder: it must not land on the one a server already uses.
        args.data = default_server_data(follow_pointer=getattr(args, "data_from_pointer", True))
        if args.data != default_server_data(follow_pointer=False):
            print(f"xunjian: data folder {args.data} ({data_source()})", file=sys.stderr)
    if getattr(args, "state", "missing") is None:
        args.state = default_agent_state()
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
