"""``xunjian server watch show|set``: a group's watched folders and sensitive words. Parsing
only; the bodies are in server/files/cli.py (imported when the command runs)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any


def add_server_parsers(
    ssub: argparse._SubParsersAction,
    add_data: Callable[[argparse.ArgumentParser], None],
    lazy: Callable[[str], Any],
) -> None:
    watch = ssub.add_parser("watch", help="folders the agents' file watcher watches, per group")
    wsub = watch.add_subparsers(dest="watch_command", required=True, metavar="COMMAND")
    p = wsub.add_parser("show", help="a group's watched folders and sensitive words")
    add_data(p)
    p.add_argument("group")
    p.set_defaults(handler=lazy("server.files.cli:show_command"))
    p = wsub.add_parser(
        "set", help="replace a group's watched folders and sensitive words (agents follow)"
    )
    add_data(p)
    p.add_argument("group")
    p.add_argument("--web-root", action="append", default=[], metavar="PATH")
    p.add_argument("--upload", action="append", default=[], metavar="PATH")
    p.add_argument("--word", action="append", default=[], help="a sensitive word (repeatable)")
    p.add_argument("--words-file", type=Path, default=None, help="UTF-8, one word per line")
    p.set_defaults(handler=lazy("server.files.cli:set_command"))
