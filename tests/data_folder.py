"""Data folders for tests: one real ``xunjian server init`` per session and database kind, copied
for each test (docs/PERFORMANCE.md, "Test suite").

A copy is what a test would get from its own ``server init`` (the same files, modes and a
migrated database holding the first admin), in a folder and a database of its own: on SQLite a
copy of the database file at the test's ``database_url``; on PostgreSQL the template schema
replayed into the test's own schema from a ``pg_dump`` of it. The copies share the template's
CA, keys and first-admin password, which no test compares between two tests; tests of
``server init`` itself keep the real command (marker ``real_server_init``, and every test that
runs ``xunjian server init`` by name).

Measured on the 2-core test machine, with cheap password hashing: a real init costs 0.23 s on
SQLite and 0.38 s on PostgreSQL (15 migrations, the CA, the keys) in process, 1.5 s more as a
``python -m xunjian.cli`` subprocess; a copy costs 0.01 s on SQLite and 0.15 s on PostgreSQL.

PostgreSQL schemas are used again (``give_back``): replaying the template (about fifty tables
with their indexes and constraints) and dropping it cost 150-330 ms per test on an idle machine
and made and unlinked a few hundred files, which PostgreSQL's checkpoints then synced (142,476
files in one) while its catalogs grew with every table made and dropped. After a test whose
schema still has the template's shape (``_shape``: tables, columns, defaults, constraints,
indexes, tablespaces, triggers, functions), its rows are deleted and the template's put back
(2-3 ms), and the next test's copy is a rename. A schema whose shape a test changed (a
migration, a table moved to another tablespace) is dropped as before.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import sqlalchemy
from sqlalchemy.engine import make_url

from xunjian.cli import main as xunjian_main

PG_DUMP = os.environ.get("XUNJIAN_PG_DUMP", "pg_dump")


def run_xunjian(*words: str) -> tuple[int, str, str]:
    """Run the real ``xunjian`` command in this process; returns (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = xunjian_main(list(words))
        except SystemExit as exit_:  # argparse's usage errors (2) and --help (0)
            code = exit_.code
            status = code if isinstance(code, int) else (0 if code is None else 1)
            if isinstance(code, str):
                print(code, file=sys.stderr)
    return status, out.getvalue(), err.getvalue()


def init_data_folder(data: Path, database_url: str, *extra: str) -> tuple[str, str]:
    """The real ``xunjian server init``; returns (its output, the first admin's password)."""
    status, out, err = run_xunjian(
        "server", "init", "--data", str(data), "--database-url", database_url, *extra
    )
    assert status == 0, err
    password = (data / "initial-admin-password").read_text().strip()
    return out, password


def database_kind(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


def _schema_of(database_url: str) -> str:
    """The schema the tests' ``database_url`` (tests/conftest.py) puts on the search path."""
    options = make_url(database_url).query.get("options", "")
    found = re.search(r"search_path=(\w+)", str(options))
    assert found, f"no search_path in {database_url}"
    return found.group(1)


def _without_options(database_url: str) -> str:
    return make_url(database_url).difference_update_query(["options"]).render_as_string(False)


@dataclass
class TemplateFolder:
    """A data folder made by the real ``server init``, and how to copy it for one test."""

    data: Path
    database_url: str
    init_output: str
    admin_password: str
    # PostgreSQL: the template schema's dump, replayed into each test's schema; its rows
    # alone (INSERTs and sequence values), to put back into a schema given back.
    dump: str = ""
    data_dump: str = ""
    schema: str = ""
    shape: str = ""  # ``_shape`` of a schema as the template makes it
    ready: list[str] = field(default_factory=list)  # schemas given back, holding the template

    def copy(self, data: Path, database_url: str) -> tuple[str, str]:
        """A data folder at ``data`` on ``database_url`` (an empty SQLite path or an empty
        PostgreSQL schema); returns (init output, admin password) as init_data_folder does."""
        shutil.copytree(self.data, data, symlinks=True)  # copy2: modes 0700/0600 kept
        kind = database_kind(database_url)
        if kind == "sqlite":
            self._copy_sqlite(make_url(database_url).database or "")
        else:
            self._copy_postgresql(database_url)
        config_path = data / "config.json"
        config = json.loads(config_path.read_text())
        config["database_url"] = database_url
        # One HTTP worker process: a real server started from a copy costs one interpreter less
        # (about 2 s of CPU each, measured). The tests of several processes (test_serve, the
        # end-to-end alert, device and monitor tests) set workers themselves.
        config["workers"] = 1
        config_path.write_text(json.dumps(config, indent=2))  # the file keeps its 0600
        output = self.init_output.replace(str(self.data), str(data))
        output = output.replace(_safe(self.database_url), _safe(database_url))
        return output, self.admin_password

    def _copy_sqlite(self, target: str) -> None:
        path = Path(target)
        assert not path.exists(), f"{path} exists: a copy needs a database of its own"
        # Private before SQLite writes to it, as init makes it (server/cli.py).
        path.touch(mode=0o600)
        source = sqlite3.connect(make_url(self.database_url).database or "")
        destination = sqlite3.connect(path)
        try:
            source.backup(destination)
        finally:
            destination.close()
            source.close()

    def _copy_postgresql(self, database_url: str) -> None:
        schema = _schema_of(database_url)
        # psycopg itself: it runs several statements in one execute when none has parameters.
        with psycopg.connect(_libpq_url(database_url)) as connection:
            if self.ready:
                # The test's schema is empty (tests/conftest.py made it): a plain DROP fails
                # rather than lose anything if it is not.
                pooled = self.ready.pop()
                try:
                    connection.execute(
                        f'DROP SCHEMA "{schema}"; ALTER SCHEMA "{pooled}" RENAME TO "{schema}"'
                    )
                except psycopg.Error:
                    self.ready.append(pooled)  # untouched (rolled back): still the template's
                    raise
            else:
                connection.execute(self.dump.replace(f"{self.schema}.", f"{schema}.").encode())
                if not self.shape:
                    self.shape = _shape(connection, schema)
        LENT[schema] = self

    def take_back(self, database_url: str, schema: str) -> bool:
        """Make ``schema`` (lent to a test that has ended) hold the template's rows again and
        keep it for the next copy; False, having changed nothing, when it cannot be (its
        shape differs from the template's, or its rows cannot be deleted now)."""
        pooled = f"xj_ready_{secrets.token_hex(6)}"
        try:
            with psycopg.connect(_libpq_url(database_url)) as connection:
                # A connection a test left open in a transaction holds locks: do not wait.
                connection.execute("SET lock_timeout = '5s'")
                if _shape(connection, schema) != self.shape:
                    connection.rollback()
                    return False
                tables = connection.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
                ).fetchall()
                # Replica mode: no foreign-key triggers, so the order of the deletes and the
                # inserts does not matter (as pg_restore --disable-triggers); superuser only,
                # and without it this fails and the schema is dropped instead.
                connection.execute("SET LOCAL session_replication_role = replica")
                deletes = ";".join(f'DELETE FROM "{schema}"."{name}"' for (name,) in tables)
                connection.execute(deletes.encode())
                connection.execute(self.data_dump.replace(f"{self.schema}.", f"{schema}.").encode())
                connection.execute(f'ALTER SCHEMA "{schema}" RENAME TO "{pooled}"')
        except psycopg.Error:
            return False
        self.ready.append(pooled)
        return True

    def remove(self) -> None:
        if self.schema:
            engine = sqlalchemy.create_engine(_without_options(self.database_url))
            try:
                with engine.begin() as connection:
                    for schema in (self.schema, *self.ready):
                        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                engine.dispose()
            self.ready.clear()


# Schemas holding a copy of a template, by name, while their test runs (this process's).
LENT: dict[str, TemplateFolder] = {}


def give_back(database_url: str, schema: str) -> bool:
    """Called as a PostgreSQL test's schema is done with (tests/conftest.py): True when it was
    kept for the next test, False when the caller must drop it."""
    template = LENT.pop(schema, None)
    return template is not None and template.take_back(database_url, schema)


# What a test could change about a schema's shape, each row as text with the schema's own name
# taken out (defaults and index definitions name it).
_SHAPE_QUERIES = (
    """SELECT c.relname, c.relkind::text, c.reltablespace::text, a.attname,
              format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
              pg_get_expr(d.adbin, d.adrelid)
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
       WHERE n.nspname = %s""",
    """SELECT con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con
       JOIN pg_namespace n ON n.oid = con.connamespace WHERE n.nspname = %s""",
    "SELECT indexname, indexdef, coalesce(tablespace, '') FROM pg_indexes WHERE schemaname = %s",
    """SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
       JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = %s""",
    """SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = %s""",
)


def _shape(connection: psycopg.Connection[tuple[object, ...]], schema: str) -> str:
    rows: list[str] = []
    for query in _SHAPE_QUERIES:
        for row in connection.execute(query, (schema,)).fetchall():
            rows.append("|".join("" if value is None else str(value) for value in row))
    return "\n".join(sorted(rows)).replace(schema, "<schema>")


def _libpq_url(database_url: str) -> str:
    url = make_url(_without_options(database_url)).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _safe(database_url: str) -> str:
    return make_url(database_url).render_as_string(hide_password=True)


def make_template(root: Path, database_url: str) -> TemplateFolder | None:
    """Init a template in ``root`` on the kind of ``database_url``; None where no copy can be
    made (no pg_dump for this PostgreSQL): the caller then runs the real init per test."""
    root.mkdir(parents=True, exist_ok=True)
    if database_kind(database_url) == "sqlite":
        url = f"sqlite:///{root / 'xunjian.sqlite3'}"
        output, password = init_data_folder(root / "server", url)
        return TemplateFolder(root / "server", url, output, password)
    base = _without_options(database_url)
    schema = f"xj_template_{secrets.token_hex(6)}"
    engine = sqlalchemy.create_engine(base)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        engine.dispose()
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    output, password = init_data_folder(root / "server", url)
    template = TemplateFolder(root / "server", url, output, password, schema=schema)
    dump = _pg_dump(base, schema)
    data_dump = _pg_dump(base, schema, "--data-only")
    if dump is None or data_dump is None:
        template.remove()
        return None
    template.dump, template.data_dump = dump, data_dump
    return template


def _pg_dump(base_url: str, schema: str, *extra: str) -> str | None:
    """The schema and its rows as SQL statements only (no COPY, no psql commands)."""
    command = [
        PG_DUMP,
        "--schema",
        schema,
        "--inserts",
        "--no-owner",
        "--no-privileges",
        *extra,
        "--dbname",
        _libpq_url(base_url),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    except OSError:
        return None
    if done.returncode != 0:
        return None
    statements = [
        line
        for line in done.stdout.splitlines()
        # psql's \restrict lines; comments; the schema exists already (tests/conftest.py);
        # set_config empties the search path for the rest of the connection.
        if not line.startswith(("\\", "--", "CREATE SCHEMA ", "SELECT pg_catalog.set_config("))
    ]
    return "\n".join(statements)


class DataFolderTemplates:
    """Templates made on first use, one per database kind, removed at the session's end
    (the session fixture ``data_folder_templates`` of tests/conftest.py)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.made: dict[str, TemplateFolder | None] = {}

    def copy(self, data: Path, database_url: str) -> tuple[str, str]:
        """A data folder as ``server init`` makes it, at ``data`` on ``database_url``;
        returns (init output, first admin's password)."""
        kind = database_kind(database_url)
        if kind not in self.made:
            self.made[kind] = make_template(self.root / kind, database_url)
        template = self.made[kind]
        if template is None:  # no usable pg_dump: the real init for each test
            return init_data_folder(data, database_url)
        return template.copy(data, database_url)

    def remove(self) -> None:
        for template in self.made.values():
            if template is not None:
                template.remove()
