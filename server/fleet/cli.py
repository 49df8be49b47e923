"""``xunjian server agent list | revoke | rebaseline``: the enrolled hosts from the server's
shell. Changes are recorded in the operation log, refusals too."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session

from server.commands import add_data_option, fail, open_data, record_command, store_session
from server.config import ConfigError, local_time
from server.fleet.store import list_hosts
from server.rest import MAX_PAGE
from server.store.agents import revoke_agent
from server.store.models import DEVICE_PLATFORM, Agent, HostBaseline
from xunjian.core.contract import UUID_PATTERN


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``agent`` under ``xunjian server``."""
    hosts = subparsers.add_parser("agent", help="enrolled agents")
    hsub = hosts.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")
    p = hsub.add_parser("list", help="enrolled agents with their id, group and last contact")
    add_data_option(p)
    p.set_defaults(handler=agent_list_command)
    p = hsub.add_parser("revoke", help="refuse every further request of an agent")
    add_data_option(p)
    p.add_argument("agent_id", help="the id the server assigned (see 'agent list')")
    p.set_defaults(handler=agent_revoke_command)
    p = hsub.add_parser(
        "rebaseline", help="forget a host's baseline; its next inventory becomes the new one"
    )
    add_data_option(p)
    p.add_argument("agent_id", help="the id the server assigned (see 'agent list')")
    p.set_defaults(handler=agent_rebaseline_command)


def agent_list_command(args: argparse.Namespace) -> int:
    try:
        config, _paths = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    with store_session(config) as session:
        rows, total = list_hosts(session, config.offline_after_seconds, MAX_PAGE, 0)
    zone = config.console_timezone
    print(f"{'agent id':36}  {'hostname':24}  {'group':12}  {'state':8}  last seen ({zone})")
    for row in rows:
        state = "revoked" if row.revoked else ("online" if row.online else "offline")
        if not row.revoked and row.platform == DEVICE_PLATFORM:
            state = "device"
        last_seen = local_time(row.last_seen, zone) if row.last_seen else "never"
        print(f"{row.id:36}  {row.hostname[:24]:24}  {row.group[:12]:12}  {state:8}  {last_seen}")
    if total > len(rows):
        print(f"... {total - len(rows)} more; the console and GET /api/v1/hosts page through all")
    return 0


def _on_one_agent(
    args: argparse.Namespace,
    action: str,
    change: Callable[[Session, str], int],
    details: Callable[[int], dict[str, object]],
) -> tuple[int, int | None]:
    """Open the store and run ``change`` for the agent named by ``args.agent_id`` in one
    transaction, then record ``action`` in the operation log (a refusal too). Returns (exit
    status, what ``change`` returned: rows changed, or None when it did not run)."""
    try:
        config, _paths = open_data(args)
    except ConfigError as exc:
        return fail(str(exc)), None
    target = f"agent:{args.agent_id[:64]}"
    if not re.fullmatch(UUID_PATTERN, args.agent_id):
        refused = f"{args.agent_id!r} is not an agent id (see 'xunjian server agent list')"
        return record_command(config, args, action, target, refused=refused), None
    with store_session(config) as session:
        known = session.get(Agent, args.agent_id) is not None
        changed = change(session, args.agent_id) if known else 0
        session.commit()
    if not known:
        return record_command(
            config, args, action, target, refused=f"no agent {args.agent_id}"
        ), None
    return record_command(config, args, action, target, details(changed)), changed


def agent_revoke_command(args: argparse.Namespace) -> int:
    status, changed = _on_one_agent(
        args,
        "cli.agent.revoke",
        lambda session, agent_id: int(revoke_agent(session, agent_id)),
        lambda changed: {"already_revoked": not changed},
    )
    if changed is None:
        return status
    if not changed:
        print(f"agent {args.agent_id} was already revoked")
        return status
    print(
        f"agent {args.agent_id} revoked: the server refuses its requests from now on. "
        "To bring the host back, enroll it again with a new token."
    )
    return status


def _forget_baseline(session: Session, agent_id: str) -> int:
    return int(
        session.execute(delete(HostBaseline).where(HostBaseline.agent_id == agent_id)).rowcount
    )


def agent_rebaseline_command(args: argparse.Namespace) -> int:
    """After an administrator has approved what a host gained (accounts, software), the
    baseline checks should stop reporting it: the host's next inventory becomes its baseline."""
    status, forgotten = _on_one_agent(
        args,
        "cli.agent.rebaseline",
        _forget_baseline,
        lambda forgotten: {"baseline_rows_forgotten": forgotten},
    )
    if forgotten is None:
        return status
    if forgotten:
        print(
            f"baseline of agent {args.agent_id} forgotten; its next inventory becomes the new one"
        )
    else:
        print(f"agent {args.agent_id} had no baseline yet; its next inventory becomes one")
    return status
