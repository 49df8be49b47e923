"""Bodies of ``xunjian server monitor add|list`` (the parsing is in ``xunjian/cli_monitors.py``).
Exit status 0 on success, 1 with the reason otherwise. ``add`` is recorded in the operation
log like the same change made over HTTP."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from server.cli import store_session
from server.config import ConfigError, load_config
from server.monitors import store
from server.monitors.models import Monitor, MonitorBaseline
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.store import OperationLog
from server.store.engine import make_engine


def _fail(message: str) -> int:
    print(f"xunjian server monitor: {message}", file=sys.stderr)
    return 1


def _cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def add_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.data)
    except ConfigError as exc:
        return _fail(str(exc))
    payload = {
        "url": args.url,
        "name": args.name,
        "interval_seconds": args.interval,
        "keyword": args.keyword,
        "absent_keyword": args.absent,
        "max_ms": args.max_ms,
        "accepted_statuses": args.statuses,
        "timeout_seconds": args.timeout,
        "follow_redirects": not args.no_redirects,
        "ca_file": args.ca_file,
        "volatile_selectors": args.volatile,
        "volatile_patterns": args.volatile_pattern,
        "fail_threshold": args.fail_threshold,
        "success_threshold": args.success_threshold,
        "agent_id": args.agent,
    }
    try:
        values = store.validate(payload, creating=True)
    except store.FieldError as exc:
        return _fail(str(exc))
    actor = _cli_actor()
    with store_session(config) as session:
        try:
            monitor = store.create_monitor(session, values, actor)
        except (store.FieldError, store.ConflictError) as exc:
            return _fail(str(exc))
        session.commit()
        monitor_id, url, agent_id = monitor.id, monitor.url, monitor.agent_id
        has_baseline = session.get(MonitorBaseline, monitor_id) is not None
    engine = make_engine(config.database_url)
    try:
        OperationLog(engine, args.data, OplogSettings.from_config(config)).append(
            EntryFields.make(
                "monitor.create",
                actor=actor,
                role="system",
                target=f"monitor:{monitor_id}",
                details={"url": url, "agent_id": agent_id},
            )
        )
    finally:
        engine.dispose()
    if agent_id:
        baseline = f"run by agent {agent_id}; its first good check takes the baseline"
    elif has_baseline:
        baseline = "baseline taken"
    else:
        baseline = "the page did not answer 2xx now; the first good check takes the baseline"
    print(f"monitor {monitor_id} added for {url}, every {args.interval} s ({baseline})")
    return 0


def list_command(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.data)
    except ConfigError as exc:
        return _fail(str(exc))
    with store_session(config) as session:
        monitors = list(session.scalars(select(Monitor).order_by(Monitor.id)))
    print(
        f"{'id':>5}  {'state':8}  {'every':>6}  {'last check':16}  {'alerts':14}  "
        f"{'run by':36}  url"
    )
    for monitor in monitors:
        checked = (
            monitor.last_checked_at.strftime("%Y-%m-%d %H:%M")
            if monitor.last_checked_at
            else "never"
        )
        state = monitor.state if monitor.enabled else "paused"
        print(
            f"{monitor.id:>5}  {state:8}  {monitor.interval_seconds:>5}s  {checked:16}  "
            f"{(monitor.alerting or '-')[:14]:14}  {monitor.agent_id or 'server':36}  "
            f"{monitor.url}"
        )
    return 0
