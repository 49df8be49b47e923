"""Alembic environment: migrations always run online against the engine the caller passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from server.migrations.all_models import metadata

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("run migrations through server.store.migrate.upgrade_database(engine)")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
