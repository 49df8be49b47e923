"""Retention of file events (POLICY.md A3, E10): the file watcher's events ride in the agents'
reports and are part of the history ``results_retention_days`` keeps (docs/operations.md,
"Results retention"); the daily ``results_purge`` job (server/jobs) deletes the events received
before its cutoff, beside the reports and result states it deletes.

By the time received, which is indexed and never earlier than the event's own time, so an
event is never deleted before its report is."""

from __future__ import annotations

import datetime

from sqlalchemy import Engine, delete, select

from server.files.models import FileEvent

PURGE_BATCH = 5000  # rows a transaction, as server/store/states.py purge_history


def purge_events(engine: Engine, cutoff: datetime.datetime, batch: int = PURGE_BATCH) -> int:
    """Delete the file events received before ``cutoff``; returns how many."""
    deleted = 0
    while True:
        with engine.begin() as connection:
            ids = connection.scalars(
                select(FileEvent.id).where(FileEvent.received_at < cutoff).limit(batch)
            ).all()
            if ids:
                deleted += connection.execute(
                    delete(FileEvent).where(FileEvent.id.in_(ids))
                ).rowcount
        if len(ids) < batch:
            return deleted
