"""``xunjian server watch show|set``: a group's watched folders and sensitive words (the parser,
``add_parser``, and the commands)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sqlalchemy import select

from server.commands import add_data_option, fail, open_data, record_command, store_session
from server.config import ConfigError
from server.files.api import replace_watch
from server.files.policy import WatchPolicyError, validate_watch, watch_section
from server.store.models import Group


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``watch`` under ``xunjian server``."""
    watch = subparsers.add_parser(
        "watch", help="folders the agents' file watcher watches, per group"
    )
    wsub = watch.add_subparsers(dest="watch_command", required=True, metavar="COMMAND")
    p = wsub.add_parser("show", help="a group's watched folders and sensitive words")
    add_data_option(p)
    p.add_argument("group")
    p.set_defaults(handler=show_command)
    p = wsub.add_parser(
        "set", help="replace a group's watched folders and sensitive words (agents follow)"
    )
    add_data_option(p)
    p.add_argument("group")
    p.add_argument("--web-root", action="append", default=[], metavar="PATH")
    p.add_argument("--upload", action="append", default=[], metavar="PATH")
    p.add_argument("--word", action="append", default=[], help="a sensitive word (repeatable)")
    p.add_argument("--words-file", type=Path, default=None, help="UTF-8, one word per line")
    p.set_defaults(handler=set_command)


def show_command(args: argparse.Namespace) -> int:
    try:
        config, _ = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    with store_session(config) as session:
        group = session.scalar(select(Group).where(Group.name == args.group))
        if group is None:
            return fail(f"no group named {args.group!r}")
        print(json.dumps(watch_section(group.policy or {}), ensure_ascii=False, indent=2))
    return 0


def set_command(args: argparse.Namespace) -> int:
    try:
        config, _ = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    words = list(args.word)
    if args.words_file is not None:
        try:
            text = args.words_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return fail(f"cannot read {args.words_file}: {exc}")
        words += [line.strip() for line in text.splitlines() if line.strip()]
    folders = [{"path": path, "kind": "web_root"} for path in args.web_root]
    folders += [{"path": path, "kind": "upload"} for path in args.upload]
    try:
        watch = validate_watch({"folders": folders, "sensitive_words": words})
    except WatchPolicyError as exc:
        return fail(str(exc))
    with store_session(config) as session:
        group = session.scalar(select(Group).where(Group.name == args.group))
        if group is None:
            return fail(f"no group named {args.group!r}")
        version = replace_watch(session, group, watch)
        session.commit()
    print(
        f"group {args.group}: {len(folders)} folder(s), {len(watch['sensitive_words'])} "
        f"sensitive word(s); policy version {version}"
    )
    details = {
        "folders": watch["folders"],
        "sensitive_words": len(watch["sensitive_words"]),
        "policy_version": version,
    }
    return record_command(config, args, "watch.set", f"group:{args.group}", details)
