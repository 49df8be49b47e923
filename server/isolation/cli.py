"""``xunjian server host isolate ID --reason TEXT | release ID --reason TEXT | isolation [ID]``:
host isolation from the server's shell (docs/incidents.md). A change is one operation log
entry (actor ``cli:<os user>``) with the reason; a refusal is one too."""

from __future__ import annotations

import argparse
import json

from server.commands import (
    add_data_option,
    cli_actor,
    fail,
    open_data,
    record_command,
    store_session,
)
from server.config import ConfigError
from server.isolation import store
from server.store.models import Agent


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """``host`` under ``xunjian server``."""
    host = subparsers.add_parser("host", help="isolate a host from the network, or release it")
    hsub = host.add_subparsers(dest="host_command", required=True, metavar="COMMAND")
    for name, text in (
        ("isolate", "cut the host off the network except for its link to this server"),
        ("release", "end a host's isolation"),
    ):
        p = hsub.add_parser(name, help=text)
        add_data_option(p)
        p.add_argument("agent_id", help="the host's agent id (see 'xunjian server agent list')")
        p.add_argument("--reason", required=True, help="why (kept in the operation log)")
        p.set_defaults(handler=change_command, action=name)
    p = hsub.add_parser("isolation", help="isolated hosts, or one host's isolation (JSON)")
    add_data_option(p)
    p.add_argument("agent_id", nargs="?", help="one host's full isolation record")
    p.set_defaults(handler=show_command)


def change_command(args: argparse.Namespace) -> int:
    try:
        config, paths = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    action = f"cli.host.{args.action}"
    target = f"host:{str(args.agent_id)[:36]}"
    try:
        if len(args.agent_id) > 36:
            raise store.IsolationRefused(404, "no such host")
        with store_session(config) as session:
            queued = store.request(
                session, paths.root, args.agent_id, args.action, args.reason, cli_actor(), None
            )
            session.commit()
    except store.IsolationRefused as exc:
        return record_command(config, args, action, target, refused=exc.reason)
    details: dict[str, object] = {
        "reason": queued.reason,
        "command": queued.command_id,
        "generation": queued.generation,
    }
    status = record_command(config, args, action, target, details)
    verb = "isolation" if args.action == "isolate" else "release"
    print(
        f"{verb} of host {args.agent_id} queued (command {queued.command_id}, generation "
        f"{queued.generation}); the agent carries it out at its next heartbeat"
    )
    return status


def show_command(args: argparse.Namespace) -> int:
    try:
        config, _paths = open_data(args)
    except ConfigError as exc:
        return fail(str(exc))
    with store_session(config) as session:
        if args.agent_id:
            found = store.isolation_of(session, [args.agent_id]).get(args.agent_id)
            if session.get(Agent, args.agent_id) is None:
                return fail(f"no agent {args.agent_id}")
            print(json.dumps(found.as_json() if found else {"status": ""}, indent=2))
            return 0
        ids = store.isolated_host_ids(session)
        shown = store.isolation_of(session, ids)
        names = {
            agent.id: agent.hostname
            for agent in session.query(Agent).filter(Agent.id.in_(ids)).all()
        }
    print(f"{'agent id':36}  {'hostname':24}  {'state':10}  reason")
    for agent_id in ids:
        view = shown[agent_id]
        print(f"{agent_id:36}  {names.get(agent_id, '')[:24]:24}  {view.status:10}  {view.reason}")
    return 0
