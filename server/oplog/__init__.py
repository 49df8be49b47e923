"""The tamper-evident operation log (POLICY.md E12, A1, A3; DESIGN.md "The operation log").

Each entry carries the SHA-256 of its own fields and of the entry before it; every N entries the
head of that chain is signed with an Ed25519 key kept in the data folder, outside the database,
so someone who can write to the database alone cannot rewrite history unnoticed.

Modules: ``models`` (tables), ``chain`` (canonical encoding and hashes), ``signing`` (the key
and checkpoint signatures), ``store`` (race-safe append, checkpoints, purge, reading),
``verify``, ``hook`` (Flask recording), ``api`` (``GET /api/v1/oplog``), ``cli``.

This package's ``__init__`` imports nothing, so ``server.store.models`` or the migration
environment may import ``server.oplog.models`` without an import cycle.
"""
