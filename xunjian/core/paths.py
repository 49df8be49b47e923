"""Default locations of the server's data folder and the agent's state folder.

The server's data folder may be anywhere (``--data``): ``xunjian server init`` and ``run``
leave a pointer to the folder they used (``server_pointer()``), so that the other ``xunjian
server`` commands, run on the same machine by the same user without ``--data``, work on the
folder the server uses rather than fail on a default folder nobody made (issue 13 item 9)."""

from __future__ import annotations

import os
from pathlib import Path


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


# Where the pointer is kept, for a test (or a second installation) that must not share the
# user's own.
POINTER_ENV = "XUNJIAN_SERVER_POINTER"
CONFIG_NAME = "config.json"  # server/config.py's; a folder without it is no data folder


def fixed_server_data() -> Path:
    """The data folder when neither --data, $XUNJIAN_DATA nor a pointer says another."""
    if _is_root():
        return Path("/var/lib/xunjian/server")
    return Path.home() / ".local/share/xunjian/server"


def server_pointer() -> Path:
    """The file naming the data folder ``xunjian server init`` or ``run`` last used."""
    if env := os.environ.get(POINTER_ENV):
        return Path(env)
    if _is_root():
        return Path("/var/lib/xunjian/server-data")
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local/state")
    return Path(state) / "xunjian" / "server-data"


def pointed_server_data() -> Path | None:
    """The folder the pointer names, while it is still a data folder (has config.json)."""
    try:
        text = server_pointer().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    folder = Path(text)
    if not text or not folder.is_absolute() or not (folder / CONFIG_NAME).is_file():
        return None
    return folder


def remember_server_data(root: Path) -> None:
    """Point the pointer at ``root``. Best effort: a home that cannot be written only costs
    the other commands their default, so a failure here must not stop the server."""
    pointer = server_pointer()
    try:
        pointer.parent.mkdir(parents=True, exist_ok=True)
        partial = pointer.with_name(f".{pointer.name}.{os.getpid()}")
        partial.write_text(f"{root.resolve()}\n", encoding="utf-8")
        partial.replace(pointer)  # whole or not at all, for a command reading it meanwhile
    except OSError:
        return


def default_server_data(*, follow_pointer: bool = True) -> Path:
    """$XUNJIAN_DATA, else the folder a server last ran with (``follow_pointer``), else the
    fixed default."""
    if env := os.environ.get("XUNJIAN_DATA"):
        return Path(env)
    if follow_pointer and (pointed := pointed_server_data()) is not None:
        return pointed
    return fixed_server_data()


def default_agent_state() -> Path:
    if env := os.environ.get("XUNJIAN_STATE"):
        return Path(env)
    if os.name == "nt":
        return Path(os.environ.get("PROGRAMDATA", r"C:\ProgramData")) / "xunjian" / "agent"
    if _is_root():
        return Path("/var/lib/xunjian/agent")
    return Path.home() / ".local/share/xunjian/agent"
