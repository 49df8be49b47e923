"""Taking and giving back a job's lease: plain conditional statements that mean the same on
SQLite and PostgreSQL.

* The row is made once with ``INSERT ... ON CONFLICT (name) DO NOTHING``.
* A process takes the lease with ``UPDATE job_leases SET holder = me, lease_until = now + ttl
  WHERE name = :name AND (lease_until IS NULL OR lease_until < now)``. The database runs the
  two processes' UPDATEs one after the other (SQLite: one writer at a time; PostgreSQL: the row
  lock, and the second UPDATE re-checks its WHERE on the committed row), so exactly one sees
  rowcount 1. The other skips the job until its next tick.
* The holder gives the lease back (and records the outcome) with an UPDATE ``WHERE holder =
  me``; a holder that died leaves a lease that simply expires.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import Engine, or_, select, update

from server.jobs.models import HOLDER_LENGTH, JobLease
from server.store.engine import conflict_insert
from server.store.models import utcnow

MAX_ERROR_TEXT = 2000


@dataclass(frozen=True)
class LeaseState:
    name: str
    created_at: datetime.datetime
    last_success_at: datetime.datetime | None
    last_finished_at: datetime.datetime | None
    last_outcome: str | None

    def since_success(self) -> datetime.datetime:
        """When the job last succeeded, else when it was first registered."""
        return self.last_success_at or self.created_at


def ensure_row(engine: Engine, name: str, now: datetime.datetime | None = None) -> None:
    insert = conflict_insert(engine)
    statement = (
        insert(JobLease)
        .values(name=name, created_at=now or utcnow())
        .on_conflict_do_nothing(index_elements=["name"])
    )
    with engine.begin() as connection:
        connection.execute(statement)


def try_acquire(
    engine: Engine,
    name: str,
    holder: str,
    ttl: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> bool:
    moment = now or utcnow()
    with engine.begin() as connection:
        taken = connection.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(JobLease.lease_until.is_(None), JobLease.lease_until < moment),
            )
            .values(holder=holder[:HOLDER_LENGTH], lease_until=moment + ttl)
        ).rowcount
    return taken == 1


def read_state(engine: Engine, name: str) -> LeaseState | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(
                JobLease.name,
                JobLease.created_at,
                JobLease.last_success_at,
                JobLease.last_finished_at,
                JobLease.last_outcome,
            ).where(JobLease.name == name)
        ).first()
    return None if row is None else LeaseState(*row)


def mark_started(engine: Engine, name: str, holder: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder[:HOLDER_LENGTH])
            .values(last_started_at=utcnow())
        )


def release(
    engine: Engine,
    name: str,
    holder: str,
    outcome: str | None = None,
    error: str | None = None,
) -> bool:
    """Give the lease back; with ``outcome`` ("ok" or "error") also record the run. False when
    the lease was no longer ours (it expired and another process took it)."""
    values: dict[str, object] = {"holder": None, "lease_until": None}
    if outcome is not None:
        moment = utcnow()
        values.update(
            last_finished_at=moment,
            last_outcome=outcome,
            last_error=(error or "")[:MAX_ERROR_TEXT] or None,
        )
        if outcome == "ok":
            values["last_success_at"] = moment
    with engine.begin() as connection:
        released = connection.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == holder[:HOLDER_LENGTH])
            .values(**values)
        ).rowcount
    return released == 1
