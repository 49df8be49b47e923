"""Deleting many rows in batches, a transaction each: a first purge of years of history must
not hold SQLite's one write lock for minutes (intake waits at most SQLITE_BUSY_TIMEOUT_MS for
it), and each transaction leaves the store whole on its own."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, delete, select
from sqlalchemy.orm import InstrumentedAttribute

PURGE_BATCH = 5000  # rows a transaction


def delete_in_batches(
    engine: Engine,
    id_column: InstrumentedAttribute[Any],
    condition: ColumnElement[bool],
    batch: int = PURGE_BATCH,
    dependents: Sequence[InstrumentedAttribute[Any]] = (),
) -> list[int]:
    """Delete the rows of ``id_column``'s table that meet ``condition``, ``batch`` at a time;
    with each batch, the rows of other tables whose column in ``dependents`` names one of them
    (explicitly: SQLite applies ON DELETE CASCADE only on connections that turned foreign keys
    on). Returns how many rows went: the table's first, then each dependent's."""
    counts = [0] * (1 + len(dependents))
    while True:
        with engine.begin() as connection:
            ids = connection.scalars(select(id_column).where(condition).limit(batch)).all()
            if ids:
                for index, foreign in enumerate(dependents, start=1):
                    counts[index] += connection.execute(
                        delete(foreign.class_).where(foreign.in_(ids))
                    ).rowcount
                counts[0] += connection.execute(
                    delete(id_column.class_).where(id_column.in_(ids))
                ).rowcount
        if len(ids) < batch:
            return counts
