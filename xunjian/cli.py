"""The ``xunjian`` command. Parsing lives here; each subcommand's body lives in its package and
is imported only when called, so ``xunjian agent ...`` and ``xunjian scan`` never import the
server's dependencies.

Exit status: 0 success, 1 a failure the command reports (a failed check, a refused request),
2 a usage error (argparse's own convention).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from xunjian import __version__
from xunjian.core.paths import default_agent_state, default_server_data

Handler = Callable[[argparse.Namespace], int]


def _lazy(target: str) -> Handler:
    """A handler named "module:function", imported when the subcommand runs."""

    def run(args: argparse.Namespace) -> int:
        module_name, function_name = target.split(":")
        function: Handler = getattr(importlib.import_module(module_name), function_name)
        return function(args)

    return run


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"server data folder (default: $XUNJIAN_DATA or {default_server_data()})",
    )


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help=f"agent state folder (default: $XUNJIAN_STATE or {default_agent_state()})",
    )


def _server_parsers(sub: argparse._SubParsersAction) -> None:
    server = sub.add_parser("server", help="the central server")
    ssub = server.add_subparsers(dest="server_command", required=True, metavar="COMMAND")

    p = ssub.add_parser("init", help="create the data folder, CA, database and first admin")
    _add_data(p)
    p.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL (default: SQLite in the data folder); e.g. postgresql+psycopg://...",
    )
    p.add_argument(
        "--server-url",
        default=None,
        help="URL agents use to reach this server (default: https://127.0.0.1:8443)",
    )
    p.add_argument(
        "--hostname",
        action="append",
        default=[],
        help="extra DNS name or IP for the server certificate (repeatable)",
    )
    p.set_defaults(handler=_lazy("server.cli:init_command"))

    p = ssub.add_parser("run", help="serve the console and the agent API over HTTPS")
    _add_data(p)
    p.add_argument("--listen", default="127.0.0.1:8443", help="HOST:PORT (default 127.0.0.1:8443)")
    p.set_defaults(handler=_lazy("server.cli:run_command"))

    token = ssub.add_parser("token", help="enrollment tokens")
    tsub = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    p = tsub.add_parser("create", help="create an enrollment token and print the enroll line")
    _add_data(p)
    p.add_argument("--uses", type=_positive_int, default=1, help="how many agents may use it")
    p.add_argument("--expires", default="24h", help="lifetime such as 30m, 24h, 7d (default 24h)")
    p.add_argument("--group", default="default", help="group the enrolled agents join")
    p.add_argument("--server-url", default=None, help="URL agents use (default: from config)")
    p.set_defaults(handler=_lazy("server.cli:token_create_command"))

    user = ssub.add_parser("user", help="console accounts")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    p = usub.add_parser("add", help="add a console account; prints its one-time password")
    _add_data(p)
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=["admin", "operator", "auditor"])
    p.set_defaults(handler=_lazy("server.cli:user_add_command"))

    hosts = ssub.add_parser("agent", help="enrolled agents")
    hsub = hosts.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")
    p = hsub.add_parser("list", help="enrolled agents with their id, group and last contact")
    _add_data(p)
    p.set_defaults(handler=_lazy("server.cli:agent_list_command"))
    p = hsub.add_parser("revoke", help="refuse every further request of an agent")
    _add_data(p)
    p.add_argument("agent_id", help="the id the server assigned (see 'agent list')")
    p.set_defaults(handler=_lazy("server.cli:agent_revoke_command"))
    p = hsub.add_parser(
        "rebaseline", help="forget a host's baseline; its next inventory becomes the new one"
    )
    _add_data(p)
    p.add_argument("agent_id", help="the id the server assigned (see 'agent list')")
    p.set_defaults(handler=_lazy("server.cli:agent_rebaseline_command"))

    apitoken = ssub.add_parser("apitoken", help="API tokens for scripts and auditors")
    asub = apitoken.add_subparsers(dest="apitoken_command", required=True, metavar="COMMAND")
    p = asub.add_parser("create", help="create an API token for a user; printed once")
    _add_data(p)
    p.add_argument("--user", required=True)
    p.add_argument("--name", default="", help="what the token is for")
    p.set_defaults(handler=_lazy("server.cli:apitoken_create_command"))

    oplog = ssub.add_parser("oplog", help="the tamper-evident operation log")
    osub = oplog.add_subparsers(dest="oplog_command", required=True, metavar="COMMAND")
    p = osub.add_parser("verify", help="check every entry and signed checkpoint; 1 if damaged")
    _add_data(p)
    p.add_argument(
        "--public-key",
        type=Path,
        default=None,
        help="verify checkpoints with this key (default: DATA/oplog-signing.pub)",
    )
    p.set_defaults(handler=_lazy("server.oplog.cli:verify_command"))
    p = osub.add_parser("purge", help="delete entries older than oplog_retention_days (logged)")
    _add_data(p)
    p.set_defaults(handler=_lazy("server.oplog.cli:purge_command"))
    importlib.import_module("xunjian.cli_devices").add_server_parsers(ssub, _add_data, _lazy)
    importlib.import_module("xunjian.cli_reports").add_parsers(sub, ssub, _add_data, _lazy)
    importlib.import_module("xunjian.cli_monitors").add_server_parsers(ssub, _add_data, _lazy)
    importlib.import_module("xunjian.cli_files").add_server_parsers(ssub, _add_data, _lazy)


def _agent_parsers(sub: argparse._SubParsersAction) -> None:
    agent = sub.add_parser("agent", help="the endpoint agent")
    asub = agent.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")

    p = asub.add_parser("enroll", help="make a key, pin the server's CA and get an identity")
    _add_state(p)
    p.add_argument("--server", required=True, help="server URL, e.g. https://10.0.0.5:8443")
    p.add_argument("--token", required=True, help="enrollment token")
    p.add_argument("--ca-sha256", required=True, help="SHA-256 of the server's CA certificate")
    p.set_defaults(handler=_lazy("agent.cli:enroll_command"))

    p = asub.add_parser("run", help="the long-running service body")
    _add_state(p)
    p.set_defaults(handler=_lazy("agent.cli:run_command"))

    p = asub.add_parser("status", help="enrollment, last report and spool depth")
    _add_state(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_lazy("agent.cli:status_command"))


def _scan_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("scan", help="run every applicable check on this machine now")
    p.add_argument("--json", action="store_true", help="print a JSON list of results")
    p.add_argument(
        "--root",
        type=Path,
        default=None,
        help="read the host's files under this folder instead of / (commands are not run)",
    )
    p.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="a policy JSON file (as the server sends it) for check parameters and approved lists",
    )
    p.set_defaults(handler=_lazy("checks.cli:scan_command"))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xunjian", description="巡检 xunjian")
    parser.add_argument("--version", action="version", version=f"xunjian {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _server_parsers(sub)
    _agent_parsers(sub)
    _scan_parser(sub)
    importlib.import_module("xunjian.cli_deploy").add_top_parsers(sub)

    p = sub.add_parser("demo", help="server on SQLite plus a local agent, console on loopback")
    _add_data(p)
    p.add_argument("--listen", default="127.0.0.1:8443")
    p.set_defaults(handler=_lazy("xunjian.demo:demo_command"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data", "missing") is None:
        args.data = default_server_data()
    if getattr(args, "state", "missing") is None:
        args.state = default_agent_state()
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
