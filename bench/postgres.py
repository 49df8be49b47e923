"""A PostgreSQL schema of a benchmark's own, on the server the benchmarks are pointed at."""

from __future__ import annotations

import secrets

from sqlalchemy import create_engine, text


def pg_schema_url(base: str) -> tuple[str, str]:
    """A new schema on ``base``; returns (a URL that puts it first on the search path, its name)."""
    schema = f"bench_{secrets.token_hex(4)}"
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options=-csearch_path%3D{schema}", schema
