"""Alembic migrations of the server's database (run through ``server.store.migrate``)."""
