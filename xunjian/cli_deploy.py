"""Parsers of ``xunjian deploy ...`` (bodies in ``xunjian/deploy/``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from xunjian.core.paths import default_server_data


def _non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from exc
    if not 0 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"must be 0..86400 seconds: {text}")
    return value


def _parallel(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from exc
    if not 1 <= value <= 64:
        raise argparse.ArgumentTypeError(f"must be 1..64: {value}")
    return value


def add_top_parsers(sub: argparse._SubParsersAction) -> None:
    """``xunjian deploy ssh``; the body is imported only when the command runs."""
    from xunjian.cli import _lazy

    deploy = sub.add_parser("deploy", help="install the agent on hosts (run on the server's host)")
    dsub = deploy.add_subparsers(dest="deploy_command", required=True, metavar="COMMAND")
    p = dsub.add_parser(
        "ssh",
        help="install, enroll and start the agent on the hosts of an inventory over SSH",
        description=(
            "Install the agent from an offline bundle, enroll it, install its systemd unit, "
            "start it and wait for its first report, on every host of a TOML inventory. "
            "The bundle holds the xunjian wheel given with --wheel, or one built from the "
            "source checkout this command runs from. "
            "Running it again changes nothing on an up-to-date host. See docs/deploy.md."
        ),
    )
    p.add_argument("--inventory", type=Path, required=True, help="the hosts, as TOML")
    p.add_argument(
        "--data",
        type=Path,
        default=None,
        help=f"server data folder (default: $XUNJIAN_DATA or {default_server_data()})",
    )
    p.add_argument(
        "--known-hosts",
        type=Path,
        default=None,
        help="pinned SSH host keys, OpenSSH format (default: DATA/deploy/known_hosts)",
    )
    p.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="accept and record the key of a host not in the known_hosts file (a changed key "
        "is still refused)",
    )
    p.add_argument("--parallel", type=_parallel, default=4, help="hosts at a time (default 4)")
    p.add_argument(
        "--wheel",
        type=Path,
        default=None,
        metavar="FILE",
        help="install this xunjian wheel (xunjian-VERSION-py3-none-any.whl) on the hosts; "
        "needed when xunjian is installed from a wheel (default: build it from the checkout)",
    )
    p.add_argument(
        "--uninstall", action="store_true", help="stop the agent and remove what was installed"
    )
    p.add_argument(
        "--report-timeout",
        type=_non_negative_seconds,
        default=300.0,
        help="seconds to wait for each agent's first report (default 300; 0: do not wait)",
    )
    p.add_argument(
        "--server-url", default=None, help="URL the agents use (default: from config.json)"
    )
    p.set_defaults(handler=_lazy("xunjian.deploy.command:deploy_ssh_command"))
