"""``xunjian server monitor ...``: the parsers (bodies in ``server/monitors/cli.py``)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

MIN_INTERVAL = 5  # server/monitors/store.py


def _interval(text: str) -> int:
    if not text.isdigit() or not MIN_INTERVAL <= int(text) <= 86_400:
        raise argparse.ArgumentTypeError(
            f"--interval is {MIN_INTERVAL}..86400 seconds, not {text!r}"
        )
    return int(text)


def _milliseconds(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 60_000:
        raise argparse.ArgumentTypeError(f"--max-ms is 1..60000, not {text!r}")
    return int(text)


def add_server_parsers(
    ssub: argparse._SubParsersAction,
    add_data: Callable[[argparse.ArgumentParser], None],
    lazy: Callable[[str], Callable[[argparse.Namespace], int]],
) -> None:
    monitor = ssub.add_parser("monitor", help="page monitors: availability and tamper detection")
    msub = monitor.add_subparsers(dest="monitor_command", required=True, metavar="COMMAND")

    p = msub.add_parser(
        "add",
        help="watch a page; its baseline for tamper detection is taken now",
        description="Adds an HTTP(S) page monitor (docs/monitors.md). The page is fetched once "
        "now to take its baseline; the server's scheduler then checks it every --interval "
        "seconds. With --agent, that enrolled agent checks it instead (a site only the inside "
        "network reaches): the server never fetches it, and the agent's first good check "
        "takes the baseline.",
    )
    add_data(p)
    p.add_argument("url", help="http:// or https:// address of the page")
    p.add_argument("--name", default="", help="a name for lists (default: the URL)")
    p.add_argument(
        "--interval", type=_interval, default=300, help="seconds between checks (5..86400)"
    )
    p.add_argument("--keyword", default="", help="text the page must contain")
    p.add_argument("--absent", default="", help="text the page must not contain")
    p.add_argument("--max-ms", type=_milliseconds, default=None, help="slow above this")
    p.add_argument("--statuses", default="200-299", help="accepted status codes (200-299,301)")
    p.add_argument("--timeout", type=int, default=10, help="seconds per check (1..60)")
    p.add_argument("--no-redirects", action="store_true", help="do not follow redirects")
    p.add_argument("--ca-file", default="", help="PEM CA file for an internal site's certificate")
    p.add_argument(
        "--agent",
        default=None,
        metavar="AGENT_ID",
        help="the enrolled agent that checks the page (an internal-only site; see "
        "`xunjian server agent list`); default: the server checks it",
    )
    p.add_argument(
        "--volatile",
        action="append",
        default=[],
        metavar="SELECTOR",
        help="a part of the page that changes by itself (tag, #id, .class, tag.class); "
        "may be repeated",
    )
    p.add_argument(
        "--volatile-pattern",
        action="append",
        default=[],
        metavar="REGEX",
        help="text that changes by itself, as a regular expression; may be repeated",
    )
    p.add_argument(
        "--fail-threshold", type=int, default=3, help="failures in a row before down (1..20)"
    )
    p.add_argument(
        "--success-threshold", type=int, default=2, help="successes in a row to recover (1..20)"
    )
    p.set_defaults(handler=lazy("server.monitors.cli:add_command"))

    p = msub.add_parser("list", help="monitors with their state, last check and who runs them")
    add_data(p)
    p.set_defaults(handler=lazy("server.monitors.cli:list_command"))
