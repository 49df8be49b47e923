"""The service's logging: a rotating file in the state folder (everything from INFO) and the
Application event log (warnings and worse, so the event log stays readable); see
docs/windows-deploy.md. The event-log handler is made by a factory, the seam tests replace."""

from __future__ import annotations

import logging
import logging.handlers
import os
from collections.abc import Callable
from pathlib import Path

from agent.windows.names import EVENT_SOURCE, LOG_BACKUPS, LOG_MAX_BYTES, LOG_NAME

EventLogFactory = Callable[[], logging.Handler | None]
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def windows_event_log() -> logging.Handler | None:
    """The stdlib's NTEventLogHandler (pywin32 underneath) for the source the installer
    registered; None where it cannot be opened, since the file log still works then."""
    try:
        return logging.handlers.NTEventLogHandler(EVENT_SOURCE)
    except Exception:  # no pywin32, or no right to the event log: file logging goes on
        return None


def configure(
    state_dir: Path, event_log: EventLogFactory = windows_event_log
) -> list[logging.Handler]:
    """Route the root logger to the rotating file and the event log; returns the handlers."""
    state_dir.mkdir(parents=True, exist_ok=True)
    file_handler = logging.handlers.RotatingFileHandler(
        state_dir / LOG_NAME, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(_FORMAT, "%Y-%m-%dT%H:%M:%S%z"))
    handlers: list[logging.Handler] = [file_handler]
    event_handler = event_log()
    if event_handler is not None:
        event_handler.setLevel(logging.WARNING)
        handlers.append(event_handler)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(os.environ.get("XUNJIAN_LOG_LEVEL", "INFO").upper())
    return handlers
