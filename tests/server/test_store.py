"""The store itself: migrations equal the models (every feature's models gathered for Alembic),
duplicates race safely, SQLite pragmas."""

from __future__ import annotations

import threading
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select, text

from server.intake.report import ingest_report
from server.migrations import all_models
from server.store.models import Report, ResultState
from tests.server.conftest import Server, SignedAgent


def test_migrations_create_exactly_the_models(server: Server) -> None:
    with server.state.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), all_models.metadata)
    assert differences == []


def test_every_models_module_is_gathered_for_alembic() -> None:
    """A table joins the metadata only when its module is imported: a feature's models.py left
    out of all_models would be invisible to Alembic, and autogenerate would drop its tables."""
    server = Path(__file__).resolve().parents[2] / "server"
    on_disk = {
        ".".join(path.relative_to(server.parent).with_suffix("").parts)
        for path in server.rglob("models.py")
    }
    gathered = {module.__name__ for module in all_models.MODEL_MODULES}
    assert on_disk == gathered
    assert set(all_models.metadata.tables) >= {"agents", "alerts", "monitors", "file_events"}


def test_sqlite_runs_in_wal_with_foreign_keys(server: Server) -> None:
    engine = server.state.engine
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() >= 1000
        # FULL (2): a report the server confirmed survives a power cut; the agent deleted it.
        assert connection.execute(text("PRAGMA synchronous")).scalar() == 2


def test_concurrent_copies_of_one_report_are_stored_once(
    server: Server, agent: SignedAgent
) -> None:
    from xunjian.core.contract import bodies
    from xunjian.core.schema import convert

    document = convert(agent.report(), bodies.Report)
    outcomes = []
    barrier = threading.Barrier(6)

    def send() -> None:
        barrier.wait()
        outcomes.append(ingest_report(server.state.engine, agent.agent_id, document))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome.stored for outcome in outcomes) == [False] * 5 + [True]
    assert all(outcome.duplicate for outcome in outcomes if not outcome.stored)
    with server.state.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Report)) == 1
        assert session.scalar(select(func.count()).select_from(ResultState)) == 3


def test_the_migrations_have_one_head() -> None:
    """Features built side by side branch from one revision; a merge revision joins them, so
    ``alembic upgrade head`` (and an operator reading the history) sees one line."""
    from alembic.script import ScriptDirectory

    from server.store.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(None))  # type: ignore[arg-type]
    assert len(scripts.get_heads()) == 1, scripts.get_heads()
