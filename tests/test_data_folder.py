"""The PostgreSQL schemas of the data-folder template are used again (tests/data_folder.py
``give_back``): a schema given back holds the template's rows and sequence values again, none
of the test's, and the next copy is that schema; a schema whose shape the test changed, or
that never held a copy, is not kept (its caller drops it)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import POSTGRESQL_ONLY, _with_search_path
from tests.data_folder import DataFolderTemplates, TemplateFolder, _libpq_url, give_back


@pytest.fixture
def templates(tmp_path: Path) -> Iterator[DataFolderTemplates]:
    made = DataFolderTemplates(tmp_path / "templates")
    yield made
    made.remove()


def new_schema(database_url: str) -> tuple[str, str]:
    """An empty schema and the URL that uses it, as tests/conftest.py's fixture makes them."""
    base = database_url.split("?")[0]
    schema = f"xj_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(base)) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    return schema, _with_search_path(base, schema)


def contents(url: str, schema: str) -> dict[str, object]:
    with psycopg.connect(_libpq_url(url)) as connection:
        found: dict[str, object] = {}
        tables = connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (schema,)
        ).fetchall()
        for (table,) in tables:
            rows = connection.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            found[table] = sorted(map(repr, rows))
        found["groups_id_seq"] = connection.execute(
            f'SELECT last_value, is_called FROM "{schema}".groups_id_seq'
        ).fetchone()
        return found


def drop(url: str, schema: str) -> None:
    with psycopg.connect(_libpq_url(url)) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@POSTGRESQL_ONLY
def test_a_schema_given_back_holds_the_template_again_and_serves_the_next_copy(
    database_url: str, templates: DataFolderTemplates, tmp_path: Path
) -> None:
    first, first_url = new_schema(database_url)
    templates.copy(tmp_path / "first", first_url)
    template = templates.made["postgresql"]
    assert isinstance(template, TemplateFolder) and not template.ready
    as_made = contents(first_url, first)
    assert as_made["users"], "the template holds the first admin"

    # What a test does: rows in several tables, a sequence moved on.
    with psycopg.connect(_libpq_url(first_url)) as connection:
        connection.execute(
            f'INSERT INTO "{first}".groups (name, policy, policy_version, created_at)'
            " VALUES ('lab', '{}', 1, now())"
        )
        connection.execute(f'DELETE FROM "{first}".users')
    assert contents(first_url, first) != as_made

    assert give_back(first_url, first)
    [kept] = template.ready
    assert kept != first
    second, second_url = new_schema(database_url)
    templates.copy(tmp_path / "second", second_url)
    assert not template.ready, "the copy is the schema given back"
    assert contents(second_url, second) == as_made
    with psycopg.connect(_libpq_url(second_url)) as connection:
        names = [
            row[0]
            for row in connection.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname IN (%s, %s)", (first, kept)
            )
        ]
    assert names == [], "the test's first schema was renamed, not copied"

    # A test that changed the shape: its schema is not kept.
    with psycopg.connect(_libpq_url(second_url)) as connection:
        connection.execute(f'ALTER TABLE "{second}".groups ADD COLUMN colour text')
    assert not give_back(second_url, second)
    assert not template.ready
    drop(second_url, second)

    # A schema that never held a copy (a test of the real init, say) is the caller's to drop.
    third, third_url = new_schema(database_url)
    assert not give_back(third_url, third)
    drop(third_url, third)
