"""Failures of the storage that time heals, told apart from bugs.

A full disk is not the request's fault and not a defect of the server: SQLite says
``database or disk is full`` (SQLITE_FULL), PostgreSQL ``could not extend file`` (SQLSTATE
53100, class 53 "insufficient resources"), and a file write ``OSError(ENOSPC)``. The server
answers such a request with 503 and ``Retry-After`` (server/api.py), so an agent keeps the report
in its spool and sends it again later, and nothing is confirmed that was not stored.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator

# SQLite's primary result code for "insertion failed because database is full"; an extended
# code keeps it in its low byte.
SQLITE_FULL = 13
# PostgreSQL's class 53: disk full, out of memory, too many connections, a configured limit.
POSTGRESQL_INSUFFICIENT_RESOURCES = "53"
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_MAX_CHAIN = 16


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error, the driver's error SQLAlchemy wraps (``orig``), and their causes."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (getattr(current, "orig", None), current.__cause__, current.__context__):
            if isinstance(linked, BaseException):
                pending.append(linked)


def storage_full(error: BaseException) -> str | None:
    """Why the storage cannot take more now, if that is what ``error`` says; else None."""
    for current in _chain(error):
        if isinstance(current, sqlite3.Error):
            code = getattr(current, "sqlite_errorcode", None)
            if isinstance(code, int) and code & 0xFF == SQLITE_FULL:
                return f"SQLite: {current}"
        sqlstate = getattr(current, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(POSTGRESQL_INSUFFICIENT_RESOURCES):
            first_line = str(current).strip().splitlines()[0] if str(current).strip() else ""
            return f"PostgreSQL {sqlstate}: {first_line}"[:300]
        if isinstance(current, OSError) and current.errno in NO_SPACE_ERRNOS:
            return f"{current.strerror or current}" + (
                f": {current.filename}" if current.filename else ""
            )
    return None
