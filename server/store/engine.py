"""Engines and sessions for SQLite and PostgreSQL with the same calling code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # WAL lets console reads run beside report writes. FULL, not NORMAL: once the server
        # answers "stored", the agent deletes its copy, so a commit must survive a power cut
        # of the server too, not only a crash of the process (PostgreSQL's default is as
        # strict). busy_timeout makes concurrent writers wait instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def make_engine(database_url: str) -> Engine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A pool as large as the web server's thread count, so no request waits for a connection.
    # No pre-ping (a round trip per checkout, twice per report): a connection the database
    # dropped fails one request, SQLAlchemy then discards the pool, and the agent retries.
    return create_engine(url, pool_size=16, max_overflow=8, pool_recycle=3600)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def conflict_insert(bind: Engine | Connection | Session) -> Callable[..., Any]:
    """The ``insert`` of the database behind ``bind``, which takes ON CONFLICT DO NOTHING and
    DO UPDATE: SQLAlchemy has no portable one, and PostgreSQL's and SQLite's are spelled alike."""
    engine = bind.get_bind() if isinstance(bind, Session) else bind
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
