"""Default locations of the server's data folder and the agent's state folder."""

from __future__ import annotations

import os
from pathlib import Path


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def default_server_data() -> Path:
    if env := os.environ.get("XUNJIAN_DATA"):
        return Path(env)
    if _is_root():
        return Path("/var/lib/xunjian/server")
    return Path.home() / ".local/share/xunjian/server"


def default_agent_state() -> Path:
    if env := os.environ.get("XUNJIAN_STATE"):
        return Path(env)
    if os.name == "nt":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "xunjian" / "agent"
    if _is_root():
        return Path("/var/lib/xunjian/agent")
    return Path.home() / ".local/share/xunjian/agent"
