"""``xunjian server watch show|set`` (parsers in xunjian/cli_files.py)."""

from __future__ import annotations

import argparse
import json

from sqlalchemy import select

from server.cli import _fail, _open, _record, store_session
from server.config import ConfigError
from server.files.api import replace_watch
from server.files.policy import WatchPolicyError, validate_watch, watch_section
from server.store.models import Group


def show_command(args: argparse.Namespace) -> int:
    try:
        config, _ = _open(args)
    except ConfigError as exc:
        return _fail(str(exc))
    with store_session(config) as session:
        group = session.scalar(select(Group).where(Group.name == args.group))
        if group is None:
            return _fail(f"no group named {args.group!r}")
        print(json.dumps(watch_section(group.policy or {}), ensure_ascii=False, indent=2))
    return 0


def set_command(args: argparse.Namespace) -> int:
    try:
        config, _ = _open(args)
    except ConfigError as exc:
        return _fail(str(exc))
    words = list(args.word)
    if args.words_file is not None:
        try:
            text = args.words_file.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"cannot read {args.words_file}: {exc}")
        words += [line.strip() for line in text.splitlines() if line.strip()]
    folders = [{"path": path, "kind": "web_root"} for path in args.web_root]
    folders += [{"path": path, "kind": "upload"} for path in args.upload]
    try:
        watch = validate_watch({"folders": folders, "sensitive_words": words})
    except WatchPolicyError as exc:
        return _fail(str(exc))
    with store_session(config) as session:
        group = session.scalar(select(Group).where(Group.name == args.group))
        if group is None:
            return _fail(f"no group named {args.group!r}")
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
    return _record(config, args, "watch.set", f"group:{args.group}", details)
