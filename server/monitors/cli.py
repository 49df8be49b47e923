"""``xunjian server monitor add|list``: the parser (``add_parser``) and the commands.

Exit status 0 on success, 1 with the reason otherwise. ``add`` is recorded in the operation
log like the same change made over HTTP."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import select

from server.commands import add_data_option, cli_actor, store_session
from server.config import ConfigError, load_config, local_time
from server.monitors import store
from server.monitors.models import Monitor, MonitorBaseline
from server.monitors.schemas import MAX_INTERVAL, MIN_INTERVAL
from server.oplog.chain import EntryFields
from server.oplog.settings import OplogSettings
from server.oplog.store import OperationLog
from server.store.engine import make_engine


def _interval(text: str) -> int:
    if not text.isdigit() or not MIN_INTERVAL <= int(text) <= MAX_INTERVAL:
        raise argparse.ArgumentTypeError(
            f"--interval is {MIN_INTERVAL}..{MAX_INTERVAL} seconds, not {text!r}"
        )
    return int(text)


def _milliseconds(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 60_000:
        raise argparse.ArgumentTypeError(f"--max-ms is 1..60000, not {text!r}")
    return int(text)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``monitor`` under ``xunjian server``."""
    monitor = subparsers.add_parser(
        "monitor", help="page monitors: availability and tamper detection"
    )
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
    add_data_option(p)
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
    p.set_defaults(handler=add_command)

    p = msub.add_parser("list", help="monitors with their state, last check and who runs them")
    add_data_option(p)
    p.set_defaults(handler=list_command)


def _fail(message: str) -> int:
    print(f"xunjian server monitor: {message}", file=sys.stderr)
    return 1


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
    actor = cli_actor()
    with store_session(config) as session:
        try:
            monitor = store.create_monitor(session, values, actor, config.monitor_addresses)
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
    print(f"times in {config.console_timezone}")
    print(
        f"{'id':>5}  {'state':8}  {'every':>6}  {'last check':16}  {'alerts':14}  "
        f"{'run by':36}  url"
    )
    for monitor in monitors:
        checked = (
            local_time(monitor.last_checked_at, config.console_timezone)
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
