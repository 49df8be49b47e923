"""``pythonw.exe -m agent.windows [install | remove-state]`` (docs/windows-deploy.md).

No arguments: run as the service (the SCM started us). ``install`` and ``remove-state`` are the
MSI's deferred custom actions (LocalSystem): ``install`` makes the state folder SYSTEM and
Administrators only, stages the installer's SERVERURL/TOKEN/CASHA256 for the first start, and
sets what wixl cannot (delayed auto-start, recovery actions); ``remove-state`` deletes the
state folder on an uninstall with REMOVESTATE=1.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.state import StateError
from agent.windows import logs, names, staged
from agent.windows.acl import AclError, SecurityApi, protect_state_folder
from agent.windows.scm import ServiceConfigApi, configure_service


def install(
    state_dir: Path,
    server_url: str,
    token: str,
    ca_sha256: str,
    security: SecurityApi,
    services: ServiceConfigApi,
    log_to_folder: bool = False,
    python: str = sys.executable,
) -> str:
    """The install step; returns what it did, one line (the token never in it)."""
    protect_state_folder(state_dir, security)
    if log_to_folder:
        logs.configure(state_dir)
    if any(value.strip() for value in (server_url, token, ca_sha256)):
        done = staged.stage(state_dir, server_url, token, ca_sha256)
        what = "enrollment staged for the first start" if done else "already enrolled, kept"
    else:
        what = "no enrollment properties (upgrade or repair)"
    configure_service(services, python)
    return f"{names.SERVICE_NAME}: state folder {state_dir} protected; {what}"


def remove_state(state_dir: Path) -> str:
    shutil.rmtree(state_dir, ignore_errors=True)
    return f"{names.SERVICE_NAME}: removed {state_dir}"


def _say(line: str, error: bool = False) -> None:
    # pythonw.exe (what the installer runs) has no standard streams: then the log has it.
    stream = sys.stderr if error else sys.stdout
    if stream is not None:
        print(line, file=stream)
    log = logging.getLogger("xunjian.agent.windows")
    (log.error if error else log.info)("%s", line)


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:
        from agent.windows.service import host_service

        host_service()
        return 0
    parser = argparse.ArgumentParser(prog="python -m agent.windows")
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("install")
    p.add_argument("--server", default="")
    p.add_argument("--token", default="")
    p.add_argument("--ca-sha256", default="")
    sub.add_parser("remove-state")
    args = parser.parse_args(words)
    state_dir = names.state_directory()
    if args.step == "remove-state":
        _say(remove_state(state_dir))
        return 0
    from agent.windows.acl import Win32SecurityApi
    from agent.windows.scm import Win32ServiceConfigApi

    try:
        line = install(state_dir, args.server, args.token, args.ca_sha256,
                       Win32SecurityApi(), Win32ServiceConfigApi(), log_to_folder=True)  # fmt: skip
    except (AclError, StateError, OSError) as exc:
        _say(f"{names.SERVICE_NAME}: install: {exc}", error=True)
        return 1
    _say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
