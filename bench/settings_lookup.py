"""What reading the run-time settings costs: ``effective_settings`` runs on every console request
that carries a session (the idle limit) and has no per-process cache, so it must be cheap.

    .venv/bin/python -m bench.settings_lookup --db sqlite
    .venv/bin/python -m bench.settings_lookup --db postgresql  # $XUNJIAN_TEST_DATABASE_URL or PG,
                                                               # in a schema of its own, dropped

Prints the median and p95 of one call (its own session, as in a request), with no row and with
both settings changed, beside ``resume_session`` (the query the console's idle check already
makes) for scale.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bench.intake import _database_url, _drop_schema
from server.config import ServerConfig
from server.settings.runtime import effective_settings, set_setting
from server.store.accounts import create_user, resume_session, start_session
from server.store.engine import make_engine, make_sessionmaker
from server.store.migrate import upgrade_database

CALLS = 2000


def _timed(sessions: sessionmaker[Session], work: Callable[[Session], object]) -> list[float]:
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        with sessions() as session:
            work(session)
        times.append((time.perf_counter() - start) * 1e6)
    return times


def _report(label: str, times: list[float]) -> None:
    times.sort()
    p95 = times[int(len(times) * 0.95)]
    print(f"  {label:44} median {statistics.median(times):7.0f} us   p95 {p95:7.0f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    pg_url, schema = _database_url(args.db)
    try:
        _measure(pg_url)
    finally:
        if schema is not None:
            _drop_schema(schema)


def _measure(pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = pg_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        engine = make_engine(url)
        upgrade_database(engine)
        sessions = make_sessionmaker(engine)
        config = ServerConfig(database_url=url)
        with sessions() as session:
            user = create_user(session, f"bench-{time.time_ns()}", "admin", "Bench-pass-2026")
            secret = start_session(session, user)
            session.commit()
        idle = datetime.timedelta(hours=1)
        print(f"{engine.dialect.name}, {CALLS} calls each")
        read = lambda session: effective_settings(session, config)  # noqa: E731
        _report("effective_settings, nothing changed", _timed(sessions, read))
        with sessions() as session:
            set_setting(session, "oplog_retention_days", 90, "bench")
            set_setting(session, "session_idle_seconds", 600, "bench")
            session.commit()
        _report("effective_settings, both settings changed", _timed(sessions, read))
        resume = lambda session: resume_session(session, secret, idle)  # noqa: E731
        _report("resume_session (for scale)", _timed(sessions, resume))
        engine.dispose()


if __name__ == "__main__":
    main()
