"""Retention of file events (POLICY.md A3, E10): the file watcher's events ride in the agents'
reports and are part of the history ``results_retention_days`` keeps (docs/operations.md,
"Results retention"); the daily ``results_purge`` job (server/jobs) deletes the events received
before its cutoff, beside the reports and result states it deletes.

By the time received, which is indexed and never earlier than the event's own time, so an
event is never deleted before its report is."""

from __future__ import annotations

import datetime

from sqlalchemy import Engine

from server.files.models import FileEvent
from server.store.batches import PURGE_BATCH, delete_in_batches


def purge_events(engine: Engine, cutoff: datetime.datetime, batch: int = PURGE_BATCH) -> int:
    """Delete the file events received before ``cutoff``; returns how many."""
    [deleted] = delete_in_batches(engine, FileEvent.id, FileEvent.received_at < cutoff, batch)
    return deleted
