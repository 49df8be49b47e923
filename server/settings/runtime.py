"""Run-time settings: values an administrator changes in the console without a restart.

config.json gives each setting its value at start; a row in ``runtime_settings`` overrides it
from the moment it is committed, in every server process. ``effective_settings`` reads the rows
on every call (one small SELECT, no cache), so two worker processes never disagree for longer
than one request. Every value is checked with the rule config.json's loader applies to it
(``server/config.py``), plus an upper bound where config.json has none, so a value the console
accepts would also load from config.json.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from server.config import (
    MAX_EVIDENCE_RETENTION_DAYS,
    MAX_RESULTS_RETENTION_DAYS,
    MIN_EVIDENCE_RETENTION_DAYS,
    MIN_RESULTS_RETENTION_DAYS,
    evidence_retention_problem,
    results_retention_problem,
)
from server.oplog.settings import MAX_RETENTION_DAYS, MIN_RETENTION_DAYS, retention_problem
from server.settings.models import RuntimeSetting
from server.store.engine import conflict_insert
from server.store.models import utcnow

MAX_SESSION_IDLE_SECONDS = 24 * 60 * 60  # a console session idle for a day is forgotten


class SettingError(ValueError):
    """A value is refused; the message (English) says why. Nothing was changed."""


def _session_idle_problem(seconds: object) -> str | None:
    # config.json's rule for every int setting: a whole number, at least 1.
    if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 1:
        return "session_idle_seconds must be a whole number of seconds, at least 1"
    if seconds > MAX_SESSION_IDLE_SECONDS:
        return f"session_idle_seconds may be at most {MAX_SESSION_IDLE_SECONDS} (one day)"
    return None


@dataclass(frozen=True)
class SettingSpec:
    """One setting that may be changed at run time; ``name`` is its config.json key."""

    name: str
    problem: Callable[[object], str | None]
    low: int
    high: int


SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec(
            "oplog_retention_days", retention_problem, MIN_RETENTION_DAYS, MAX_RETENTION_DAYS
        ),
        SettingSpec(
            "evidence_retention_days",
            evidence_retention_problem,
            MIN_EVIDENCE_RETENTION_DAYS,
            MAX_EVIDENCE_RETENTION_DAYS,
        ),
        SettingSpec(
            "results_retention_days",
            results_retention_problem,
            MIN_RESULTS_RETENTION_DAYS,
            MAX_RESULTS_RETENTION_DAYS,
        ),
        SettingSpec("session_idle_seconds", _session_idle_problem, 1, MAX_SESSION_IDLE_SECONDS),
    )
}


@dataclass(frozen=True)
class EffectiveSettings:
    """The values in force now, and which of them come from the database."""

    oplog_retention_days: int
    evidence_retention_days: int
    results_retention_days: int
    session_idle_seconds: int
    # name -> (value, updated_at, updated_by) for the settings changed at run time
    overrides: dict[str, tuple[Any, Any, str]]

    def source(self, name: str) -> str:
        return "console" if name in self.overrides else "config.json"


def effective_settings(session: Session, config: Any) -> EffectiveSettings:
    """The run-time settings in force: a database row where one exists, else config.json's.

    ``config`` is the ``ServerConfig``. A row that no longer passes its rule (written by an
    older version, or edited by hand) is ignored in favour of config.json, never applied."""
    values = {name: getattr(config, name) for name in SPECS}
    overrides: dict[str, tuple[Any, Any, str]] = {}
    rows = session.execute(
        select(
            RuntimeSetting.name,
            RuntimeSetting.value,
            RuntimeSetting.updated_at,
            RuntimeSetting.updated_by,
        )
    ).all()
    for name, value, updated_at, updated_by in rows:
        spec = SPECS.get(name)
        if spec is None or spec.problem(value) is not None:
            continue
        values[name] = value
        overrides[name] = (value, updated_at, updated_by)
    return EffectiveSettings(**values, overrides=overrides)


def parse_whole_number(text: str, what: str) -> int:
    """A form field as a whole number; bounded length so no huge integer is ever parsed."""
    text = text.strip()
    if not text.isdigit() or len(text) > 9:
        raise SettingError(f"{what} must be a whole number")
    return int(text)


def set_setting(session: Session, name: str, value: int, actor: str) -> None:
    """Store ``value`` for ``name`` (it applies from the commit on), or raise SettingError."""
    spec = SPECS.get(name)
    if spec is None:
        raise SettingError(f"{name} cannot be changed at run time")
    problem = spec.problem(value)
    if problem is not None:
        raise SettingError(problem)
    row = {"name": name, "value": value, "updated_at": utcnow(), "updated_by": actor[:64]}
    # An upsert, so two administrators saving at once both succeed (the later one wins).
    insert = conflict_insert(session)
    statement = insert(RuntimeSetting).values(**row)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[RuntimeSetting.name],
            set_={key: statement.excluded[key] for key in ("value", "updated_at", "updated_by")},
        )
    )


def reset_setting(session: Session, name: str) -> bool:
    """Forget the run-time value of ``name``: config.json's applies again. True if one was set."""
    if name not in SPECS:
        raise SettingError(f"{name} cannot be changed at run time")
    return bool(session.execute(delete(RuntimeSetting).where(RuntimeSetting.name == name)).rowcount)
