"""Fixtures shared by every test folder.

``database_url`` runs a test on SQLite and, when ``XUNJIAN_TEST_DATABASE_URL`` is set (CI sets it
to the machine's PostgreSQL), on PostgreSQL too. Each PostgreSQL test gets a schema of its own,
so runs never see each other's rows; it is dropped afterwards, or emptied and kept for the next
test's copy of the data-folder template (tests/data_folder.py ``give_back``).

``data_folder_templates`` makes one real ``xunjian server init`` per session (per xdist worker)
and database kind, for fixtures that copy it per test (tests/data_folder.py).

Password hashing is cheap in the whole suite, and in every server it starts: see
server/security.py CHEAP_HASHING_FOR_TESTS (set before anything hashes; subprocesses inherit
it).
"""

from __future__ import annotations

import gc
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ENV = "XUNJIAN_TEST_DATABASE_URL"
# The cyclic collector, with CPython's thresholds (700, 10, 10), spent 15-16 s of a test
# process's 94 s in tests/server (gc.callbacks; 9,188 young, 835 middle and 47 whole-heap
# collections over 400,000-600,000 live objects: each test builds apps, engines and sessions
# that outlive a young collection). Collecting the young generation every 10,000 allocations
# instead: 985, 90 and 9 collections, 6-7 s (docs/PERFORMANCE.md, "Test suite", seventh
# pass). Garbage is still collected, only less often.
gc.set_threshold(10_000, 10, 10)
# server/security.py CHEAP_HASHING_FOR_TESTS, spelt out: this file must not import the server
# (the agent's tests run without its extra).
os.environ["XUNJIAN_TESTS_ONLY_CHEAP_PASSWORD_HASHING"] = "1"
# The pointer that 'xunjian server init/run' leave for the other commands (xunjian/core/
# paths.py POINTER_ENV): in a folder of this test process, never the person's own home, where
# it would send their commands to a test's deleted data folder. Servers the tests start
# inherit it.
os.environ["XUNJIAN_SERVER_POINTER"] = str(
    Path(tempfile.mkdtemp(prefix="xunjian-pointer-")) / "server-data"
)


def _database_params() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get(PG_ENV) else ["sqlite"]


def _with_search_path(url: str, schema: str) -> str:
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


# For a test that only means something on PostgreSQL (several server instances on one
# database): like every PostgreSQL variant it runs when XUNJIAN_TEST_DATABASE_URL is set and
# not under a plain ``./dev test`` (SQLite only), where it is reported as skipped with the reason.
POSTGRESQL_ONLY = pytest.mark.parametrize(
    "database_url",
    [
        pytest.param(
            "postgresql",
            marks=[]
            if os.environ.get(PG_ENV)
            else [pytest.mark.skip(reason=f"PostgreSQL only: set {PG_ENV} to run it")],
        )
    ],
    indirect=True,
)


@pytest.fixture
def server_settings() -> dict[str, object]:
    """config.json settings the ``server`` fixture's data folder runs with (tests/server/
    conftest.py); a folder or module overrides it, e.g. tests/monitors allows its loopback
    sites through ``monitor_allowed_networks``."""
    return {}


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
        # Kept for the next test when it holds a template's copy of the same shape
        # (tests/data_folder.py give_back), else dropped.
        from tests.data_folder import give_back

        if not give_back(base, schema):
            with engine.begin() as connection:
                connection.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def data_folder_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """tests/data_folder.py DataFolderTemplates (imported here: it needs the server extra)."""
    from tests.data_folder import DataFolderTemplates

    templates = DataFolderTemplates(tmp_path_factory.mktemp("templates"))
    try:
        yield templates
    finally:
        templates.remove()


# What the tests change on this machine itself (accounts, the deployed agent's install paths,
# mounts) is either the test's own (a unique name or path) or taken in turns under a lock held
# only as long as it must be: tests/machine.py. Network labs live in namespaces of their own and
# leave the root namespace untouched (tests/isolation/netns.py).


# Tests with real server, agent or sshd processes take 5-130 s each; the rest well under one.
# Collected first, so pytest-xdist starts them first and the short ones fill in around them,
# instead of one worker finishing a minute-long test alone at the end.
REAL_PROCESSES = frozenset({"ServerUnderTest", "AgentUnderTest", "Sshd"})


def _starts_real_processes(item: pytest.Item) -> bool:
    module = getattr(item, "module", None)
    return module is not None and bool(REAL_PROCESSES & set(vars(module)))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not _starts_real_processes(item))  # stable: order kept within
