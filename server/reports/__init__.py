"""The weekly scan report (POLICY.md A4): every host, every check, its result and evidence for one
ISO week, failures first, with a summary per group; as CSV, XLSX and signed JSON.

Modules: ``week`` (ISO week names and their bounds), ``collect`` (the week's data from the store,
streamed to a spool), ``formats`` (the three writers), ``signing`` (the report key),
``verify`` (offline verification; imports neither Flask nor SQLAlchemy), ``models`` and
``store`` (kept reports), ``generate`` (one call that builds and keeps a week), ``cli``,
``api``, ``openapi``, ``views`` (console).

This package's ``__init__`` imports nothing, so ``xunjian report verify`` can import
``server.reports.verify`` on a machine without the server's dependencies.
"""
