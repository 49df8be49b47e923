"""The helper ``xunjian deploy ssh`` runs on a host, in the agent's venv, as root::

    python -m xunjian.deploy.host enroll --state DIR --server URL --ca-sha256 HEX  < token
    python -m xunjian.deploy.host configure --state DIR                           < settings

The enrollment token and the settings come on standard input, so the token never appears in
a process list. ``configure`` makes agent.json exactly the enrolled identity plus the
inventory's settings (keys the inventory leaves out go back to their defaults) and prints
``changed`` or ``unchanged``. Exit status 0, or 1 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

MAX_INPUT_BYTES = 64 * 1024
IDENTITY = ("server_url", "agent_id", "group", "ca_sha256", "enrolled_at")
# Also set by enrollment (the server's key for isolation commands), but missing from an agent
# enrolled before command keys existed, which pins it at its first heartbeat instead.
PINNED = ("server_command_key",)


def _read_input() -> str:
    data = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1)
    if len(data) > MAX_INPUT_BYTES:
        raise ValueError(f"standard input is larger than {MAX_INPUT_BYTES} bytes")
    return data.decode("utf-8")


def enroll(args: argparse.Namespace) -> int:
    from agent.enroll import EnrollmentError
    from agent.enroll import enroll as enroll_agent

    token = _read_input().strip()
    try:
        config = enroll_agent(Path(args.state), args.server, token, args.ca_sha256)
    except EnrollmentError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(json.dumps({"agent_id": config.agent_id, "group": config.group}))
    return 0


def configure(args: argparse.Namespace) -> int:
    from agent.state import AgentConfig, AgentState, StateError, read_json_object, write_json

    state = AgentState(Path(args.state))
    try:
        settings = json.loads(_read_input())
        if not isinstance(settings, dict) or any(key in (*IDENTITY, *PINNED) for key in settings):
            raise ValueError("settings must be a JSON object without identity keys")
        current = read_json_object(state.config_path)
        identity = {key: current[key] for key in IDENTITY}
        identity.update({key: current[key] for key in PINNED if current.get(key)})
        wanted = AgentConfig.from_dict({**identity, **settings}).to_dict()
    except (OSError, KeyError, ValueError, TypeError, StateError) as exc:
        print(f"cannot configure the agent in {state.directory}: {exc}", file=sys.stderr)
        return 1
    if wanted == current:
        print("unchanged")
        return 0
    write_json(state.config_path, wanted)
    print("changed")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xunjian.deploy.host")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("enroll")
    p.add_argument("--state", required=True)
    p.add_argument("--server", required=True)
    p.add_argument("--ca-sha256", required=True)
    p.set_defaults(handler=enroll)
    p = sub.add_parser("configure")
    p.add_argument("--state", required=True)
    p.set_defaults(handler=configure)
    args = parser.parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
