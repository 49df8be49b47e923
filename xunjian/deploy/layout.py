"""Where the deployment puts things on a host, the systemd unit, and the fallback starter.

On the host (all owned by root)::

    /opt/xunjian/venv/                  the agent: a venv with xunjian and its dependencies
    /opt/xunjian/VERSION                the installed bundle's stamp (decides "up to date")
    /opt/xunjian/bin/xunjian-agent-service   start|stop|restart|status without systemd
    /var/lib/xunjian/agent/             the agent's state: identity, key, spool (0700)
    /etc/systemd/system/xunjian-agent.service   the hardened unit (package data, see below)
    /run/xunjian-agent.pid, /var/log/xunjian-agent.log   only when started by the fallback

The unit is ``xunjian/deploy/xunjian-agent.service``, package data read with importlib.resources,
so an install from a wheel has it as well as a checkout; ``deploy/systemd/xunjian-agent.service``
(for installing by hand) is a symbolic link to it: one source of truth for the hardening. It is
copied to hosts as it is. Its ExecStart must match the paths above; the fallback script runs
that same ExecStart line.
"""

from __future__ import annotations

import shlex
import tomllib
from importlib import resources
from pathlib import Path

INSTALL_DIR = "/opt/xunjian"
VENV = f"{INSTALL_DIR}/venv"
STAMP = f"{INSTALL_DIR}/VERSION"
FALLBACK = f"{INSTALL_DIR}/bin/xunjian-agent-service"
STATE_DIR = "/var/lib/xunjian/agent"
STATE_PARENT = "/var/lib/xunjian"
UNIT_NAME = "xunjian-agent.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT_NAME}"
PIDFILE = "/run/xunjian-agent.pid"
FALLBACK_LOG = "/var/log/xunjian-agent.log"
EXEC_START = f"{VENV}/bin/xunjian agent run --state {STATE_DIR}"
HOST_HELPER = f"{VENV}/bin/python -m xunjian.deploy.host"
# Everything `--uninstall` removes (the unit and the fallback's files included).
INSTALLED_PATHS = (UNIT_PATH, INSTALL_DIR, STATE_DIR, PIDFILE, FALLBACK_LOG)


class LayoutError(Exception):
    """The unit file is missing or does not match the layout above."""


def source_root() -> Path:
    """The folder above the package: a source checkout's root, or site-packages after an
    install from a wheel (see ``checkout_root``)."""
    return Path(__file__).resolve().parents[2]


def checkout_root() -> Path | None:
    """The source checkout this command runs from, or None when xunjian was installed from a
    wheel (then ``xunjian deploy ssh`` needs ``--wheel``: there are no sources to build from)."""
    root = source_root()
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    section = project.get("project")
    named = isinstance(section, dict) and section.get("name") == "xunjian"
    return root if named and (root / "agent" / "__init__.py").is_file() else None


def unit_text(path: Path | None = None) -> str:
    """The unit file (by default the packaged one), checked against the layout: its ExecStart
    must run EXEC_START."""
    where = str(path) if path else f"the package's {UNIT_NAME}"
    try:
        if path is None:
            text = resources.files("xunjian.deploy").joinpath(UNIT_NAME).read_text(encoding="utf-8")
        else:
            text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LayoutError(
            f"cannot read {where}: {exc.strerror or exc}; the installed xunjian is incomplete "
            "(reinstall it)"
        ) from exc
    exec_lines = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    if exec_lines != [f"ExecStart={EXEC_START}"]:
        raise LayoutError(f"{where}: ExecStart must be exactly {EXEC_START!r}; found {exec_lines}")
    return text


def fallback_script() -> str:
    """A POSIX sh starter for hosts without a running systemd (containers, chroots).

    It runs the unit's ExecStart in a session of its own with a pid file; it does not restart
    a crashed agent (docs/deploy.md says how to add it to a container's entrypoint)."""
    command = EXEC_START
    return f"""#!/bin/sh
# xunjian agent without systemd (a container, a chroot): start | stop | restart | status.
# Written by `xunjian deploy ssh`; runs the ExecStart of {UNIT_PATH}.
# Unlike the unit, it neither restarts a crashed agent nor sandboxes it.
set -u
PIDFILE={shlex.quote(PIDFILE)}
LOG={shlex.quote(FALLBACK_LOG)}
running() {{
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}}
start() {{
    if running; then echo "running (pid $(cat "$PIDFILE"))"; return 0; fi
    mkdir -p "$(dirname "$PIDFILE")"
    umask 077
    setsid {command} >>"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    sleep 2
    if running; then echo "started (pid $(cat "$PIDFILE"))"; return 0; fi
    echo "the agent exited at once; see $LOG" >&2
    tail -n 20 "$LOG" >&2
    return 1
}}
stop() {{
    if ! running; then rm -f "$PIDFILE"; echo "not running"; return 0; fi
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    for _ in $(seq 1 40); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    rm -f "$PIDFILE"
    echo "stopped"
}}
case "${{1:-}}" in
    start) start ;;
    stop) stop ;;
    restart) stop && start ;;
    status)
        if running; then echo "running (pid $(cat "$PIDFILE"))"; exit 0; fi
        echo "not running"; exit 3 ;;
    *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
"""
