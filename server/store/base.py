"""What every table of the one schema shares: the declarative ``Base`` and the column types that
differ between SQLite and PostgreSQL. The store's own tables (``server/store/models.py``) and
every feature's ``models.py`` build on it; it imports nothing of the server, so a feature's
tables never need the store's (docs/architecture.md, "Layers").

Alembic sees every table through ``server/migrations/all_models.py``, which imports each
feature's models module: a table whose module is not listed there is invisible to migrations.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for the
# tables that grow with every report.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    pass
