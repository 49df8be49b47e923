"""Fixtures shared by every test folder.

``database_url`` runs a test on SQLite and, when ``XUNJIAN_TEST_DATABASE_URL`` is set (CI sets it
to the machine's PostgreSQL), on PostgreSQL too. Each PostgreSQL test gets a schema of its own,
dropped afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "XUNJIAN_TEST_DATABASE_URL"


def _database_params() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


def _with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(params=_database_params())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'xunjian.sqlite3'}"
        return
    try:
        import sqlalchemy
    except ImportError:
        pytest.fail("PostgreSQL tests need the server extra: pip install -e '.[server,test]'")
    base = os.environ[PG_ENV]
    schema = f"xj_{secrets.token_hex(6)}"
    engine = sqlalchemy.create_engine(base)
    try:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"{PG_ENV} is set but PostgreSQL is not reachable at {base}: {exc}")
    try:
        yield _with_search_path(base, schema)
    finally:
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()
