"""Run the Alembic migrations from code: ``server init`` and ``server run`` call this, so no
``alembic.ini`` is needed at run time."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_database(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), "heads")
