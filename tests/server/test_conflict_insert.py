"""``server.store.engine.conflict_insert``: the INSERT with ON CONFLICT of the database behind an
engine, a connection or a session, on both databases (the rows are real)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.jobs.models import JobLease
from server.store.engine import conflict_insert
from server.store.models import utcnow
from tests.server.conftest import Server


def test_every_kind_of_bind_gets_its_databases_insert(server: Server) -> None:
    engine = server.state.engine
    dialect = engine.dialect.name
    with engine.begin() as connection, Session(engine) as session:
        for bind in (engine, connection, session):
            insert = conflict_insert(bind)
            assert insert.__module__.split(".")[-2] == dialect  # sqlalchemy.dialects.<name>.dml
    for bind_kind in ("engine", "connection", "session"):
        with Session(engine) as session:
            bind = {"engine": engine, "connection": session.connection(), "session": session}
            statement = (
                conflict_insert(bind[bind_kind])(JobLease)
                .values(name="conflict-test", created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["name"])
            )
            session.execute(statement)
            session.commit()
    with Session(engine) as session:
        count = session.scalar(
            select(func.count()).select_from(JobLease).where(JobLease.name == "conflict-test")
        )
    assert count == 1
