"""Alembic environment: migrations always run online against the engine the caller passes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from server.migrations.all_models import metadata

# The advisory lock migrations take on PostgreSQL (any constant the database's other users do
# not use: "xunjian" in ASCII).
MIGRATION_LOCK_KEY = 0x78756E6A69616E

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
        if connection.dialect.name == "postgresql":
            # Several instances on one PostgreSQL start at once after an upgrade, each
            # migrating before it serves: one at a time, and the next reads the version the
            # first committed (the lock is taken before Alembic reads it) and has nothing to do.
            # Released with the transaction, also when a process dies.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        context.run_migrations()
