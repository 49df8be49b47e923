"""``xunjian agent enroll | run | status``: the parser (``add_arguments``) and the commands.

Exit status: 0 success; 1 a failure the command explains on stderr (refused enrollment, not
enrolled, unusable state).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import IO, Any

from agent.state import AgentState, StateError
from xunjian.core.paths import default_agent_state

log = logging.getLogger("xunjian.agent")


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help=f"agent state folder (default: $XUNJIAN_STATE or {default_agent_state()})",
    )


def add_arguments(agent: argparse.ArgumentParser) -> None:
    """The subcommands of ``xunjian agent``."""
    subparsers = agent.add_subparsers(dest="agent_command", required=True, metavar="COMMAND")
    p = subparsers.add_parser("enroll", help="make a key, pin the server's CA and get an identity")
    _add_state(p)
    p.add_argument("--server", required=True, help="server URL, e.g. https://10.0.0.5:8443")
    p.add_argument("--token", required=True, help="enrollment token")
    p.add_argument("--ca-sha256", required=True, help="SHA-256 of the server's CA certificate")
    p.set_defaults(handler=enroll_command)

    p = subparsers.add_parser("run", help="the long-running service body")
    _add_state(p)
    p.set_defaults(handler=run_command)

    p = subparsers.add_parser(
        "release-isolation",
        help="break-glass: lift this host's isolation without the server (root; logged and "
        "reported to the server)",
    )
    _add_state(p)
    p.add_argument("--reason", required=True, help="why (kept and reported to the server)")
    p.set_defaults(handler=release_isolation_command)

    p = subparsers.add_parser("status", help="enrollment, last report and spool depth")
    _add_state(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=status_command)


def _fail(message: str) -> int:
    print(f"xunjian agent: {message}", file=sys.stderr)
    return 1


# -- enroll -----------------------------------------------------------------------------------
def enroll_command(args: argparse.Namespace) -> int:
    from agent.enroll import EnrollmentError, enroll

    try:
        config = enroll(Path(args.state), args.server, args.token, args.ca_sha256)
    except EnrollmentError as exc:
        return _fail(str(exc))
    print(
        f"enrolled as agent {config.agent_id} (group {config.group}) with {config.server_url}\n"
        f"state folder: {args.state}\n"
        f"next: run `xunjian agent run --state {args.state}` (or start the service)"
    )
    return 0


# -- run --------------------------------------------------------------------------------------
def _configure_logging(stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(os.environ.get("XUNJIAN_LOG_LEVEL", "INFO").upper())


def _acquire_single_instance(state: AgentState) -> Any:
    """Hold a lock on the state folder: two services on one spool would scan twice."""
    try:
        import fcntl
    except ImportError:  # Windows: the service manager runs one instance
        return None
    handle = (state.directory / "agent.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StateError(f"another `xunjian agent run` is using {state.directory}") from None
    return handle


def run_command(args: argparse.Namespace) -> int:
    _configure_logging()
    from agent.service import build_service

    state = AgentState(Path(args.state))
    try:
        lock = _acquire_single_instance(state) if state.directory.is_dir() else None
        service = build_service(state)
    except (StateError, OSError, ValueError) as exc:
        return _fail(str(exc))
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        service.run(stop)
    finally:
        service.close()
        if lock is not None:
            lock.close()
    return 0


# -- release-isolation ------------------------------------------------------------------------
def release_isolation_command(args: argparse.Namespace) -> int:
    """The break-glass release (docs/incidents.md): for when the server cannot release the host
    (its link is down, the server is gone). Root only: the rules are root's to change anyway,
    and the record of who did it is in root's state folder."""
    _configure_logging()
    from agent.isolation.controller import CommandRefused, IsolationController
    from agent.isolation.firewall import FirewallError

    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return _fail("release-isolation must run as root")
    reason = " ".join(str(args.reason).split())
    if not reason:
        return _fail("--reason must say why")
    state = AgentState(Path(args.state))
    try:
        config = state.load_config()
        record = IsolationController(state, config).break_glass(reason)
    except CommandRefused as exc:
        return _fail(str(exc))
    except (StateError, FirewallError, OSError) as exc:
        return _fail(f"the isolation was not released: {exc}")
    print(
        f"isolation released locally by {record.released_by} at {record.changed_at}; "
        "the server is told with the agent's next heartbeat"
    )
    return 0


# -- status -----------------------------------------------------------------------------------
def status_document(state: AgentState) -> dict[str, Any]:
    from agent.spool import peek_depth, peek_set_aside, peek_uploads

    document: dict[str, Any] = {"state": str(state.directory), "enrolled": False}
    try:
        config = state.load_config()
    except StateError as exc:
        document["problem"] = str(exc)
        return document
    document.update(
        enrolled=state.is_enrolled(),
        agent_id=config.agent_id,
        group=config.group,
        server_url=config.server_url,
        enrolled_at=config.enrolled_at,
        allowed_commands=config.allowed_commands,
    )
    if not document["enrolled"]:
        document["problem"] = "agent.json exists but the key or the pinned CA is missing"
    status = state.load_status()
    for name in (
        "last_report_at",
        "last_report_seq",
        "last_scan_at",
        "last_heartbeat_at",
        "last_policy_version",
        "last_error",
        "last_error_at",
        "watch_error",
        "watch_error_at",
        "watch_unreadable",
        "last_evidence_at",
        "last_evidence_id",
        "last_evidence_missing",
        "last_evidence_delivered",
    ):
        document[name] = status.get(name)
    document["evidence_waiting"] = peek_uploads(state.spool_path)
    spool = peek_depth(state.spool_path)
    document["spool_depth"] = spool[0] if spool else 0
    document["epoch"] = spool[1] if spool else None
    document["last_seq"] = spool[2] if spool else None
    # Reports the server refused for their content: set aside in the spool, sent on as gaps.
    document["reports_set_aside"] = peek_set_aside(state.spool_path)
    document["isolation"] = _isolation_status(state)
    return document


def _isolation_status(state: AgentState) -> dict[str, Any] | None:
    from agent.isolation.controller import RECORD_NAME
    from agent.state import read_json_object

    try:
        record = read_json_object(state.directory / RECORD_NAME)
    except (OSError, StateError):
        return None
    return {
        key: record.get(key)
        for key in (
            "state",
            "generation",
            "changed_at",
            "backend",
            "error",
            "released_by",
            "reason",
        )
    }


def status_command(args: argparse.Namespace) -> int:
    state = AgentState(Path(args.state))
    document = status_document(state)
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif not document["enrolled"]:
        print(f"not enrolled (state folder {state.directory})")
        if "problem" in document:
            print(f"  {document['problem']}")
    else:
        labels = [
            ("agent id", "agent_id"),
            ("group", "group"),
            ("server", "server_url"),
            ("enrolled at", "enrolled_at"),
            ("last report", "last_report_at"),
            ("last heartbeat", "last_heartbeat_at"),
            ("policy version", "last_policy_version"),
            ("spool depth", "spool_depth"),
            ("set aside", "reports_set_aside"),
            ("last evidence", "last_evidence_at"),
            ("evidence waiting", "evidence_waiting"),
            ("last error", "last_error"),
        ]
        isolation = document.get("isolation")
        if isolation:
            labels.append(("isolation", "isolation_text"))
            document["isolation_text"] = (
                f"{str(isolation.get('state')).upper()} since {isolation.get('changed_at')}"
                + (f" ({isolation['error']})" if isolation.get("error") else "")
            )
        if document.get("watch_error"):
            # A blind watcher is not a quiet one: say it apart from the last error.
            labels.append(("file watcher", "watch_failing"))
            document["watch_failing"] = (
                f"FAILING since {document.get('watch_error_at')}: {document['watch_error']}"
            )
        print(f"enrolled (state folder {state.directory})")
        for label, key in labels:
            value = document.get(key)
            print(f"  {label + ':':<16}{'-' if value is None else value}")
    return 0 if document["enrolled"] else 1
