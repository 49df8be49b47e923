"""Agents that went silent: no report or heartbeat for ``offline_after_seconds`` (three
heartbeat intervals). One set-based INSERT opens their ``agent_silent`` alerts and one UPDATE
resolves those whose agent talks again (or was revoked). Every server process may run it at
the same time: the unique open_key makes a second opening a no-op, so no leader lock is
needed. Reports (server/alerts/detect.py) and heartbeats (``heartbeat`` below) resolve the
alert at once; the sweep resolves it for revoked agents and as a safety net."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, literal, or_, select, update

from server.alerts.models import Alert, open_key
from server.store.agents import record_heartbeat
from server.store.engine import conflict_insert
from server.store.models import Agent, utcnow

SILENT_SEVERITY = "medium"


@dataclass(frozen=True)
class SweepOutcome:
    opened: int
    resolved: int


def sweep_silent_agents(
    engine: Engine, offline_after_seconds: int, now: datetime.datetime | None = None
) -> SweepOutcome:
    now = now or utcnow()
    cutoff = now - datetime.timedelta(seconds=offline_after_seconds)
    insert = conflict_insert(engine)
    silent = select(
        literal("agent_silent"),
        literal(SILENT_SEVERITY),
        Agent.id,
        literal(""),
        literal(""),
        literal(f"no report or heartbeat for {offline_after_seconds} s from ") + Agent.hostname,
        literal("agent_silent:") + Agent.id + literal("::"),
        literal(now, DateTime),
    ).where(
        Agent.revoked_at.is_(None),
        Agent.last_seen < cutoff,
        # Devices (server/devices) are checked over SSH on a schedule; they never heartbeat.
        Agent.platform != "device",
    )
    columns = [
        "kind",
        "severity",
        "agent_id",
        "check_id",
        "resource",
        "message",
        "open_key",
        "opened_at",
    ]
    opening = (
        insert(Alert)
        .from_select(columns, silent)
        .on_conflict_do_nothing(index_elements=["open_key"])
        # psycopg does not report an INSERT ... SELECT's rowcount unless asked to keep it.
        .execution_options(preserve_rowcount=True)
    )
    talking = select(Agent.id).where(or_(Agent.last_seen >= cutoff, Agent.revoked_at.is_not(None)))
    resolving = (
        update(Alert)
        .where(
            Alert.kind == "agent_silent",
            Alert.resolved_at.is_(None),
            Alert.agent_id.in_(talking),
        )
        .values(resolved_at=now, open_key=None)
    )
    with engine.begin() as connection:
        resolved = connection.execute(resolving).rowcount
        opened = connection.execute(opening).rowcount
    return SweepOutcome(opened=max(opened, 0), resolved=max(resolved, 0))


def heartbeat(engine: Engine, agent_id: str, beat: dict[str, Any]) -> tuple[int, list[dict]]:
    """A heartbeat in one transaction: the store records it and hands out the agent's commands
    (``server/store/agents.py``), and the agent's ``agent_silent`` alert, if any, ends now, not
    at the next sweep, so nobody is paged for a PC that is already back. Returns the policy
    version and the pending commands."""
    now = utcnow()
    with engine.begin() as connection:
        answer = record_heartbeat(connection, agent_id, beat, now)
        end_silence(connection, agent_id, now)
    return answer


def end_silence(connection: Connection, agent_id: str, now: datetime.datetime) -> None:
    connection.execute(
        update(Alert)
        .where(Alert.open_key == open_key("agent_silent", agent_id))
        .values(resolved_at=now, open_key=None)
    )
