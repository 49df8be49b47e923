"""Isolation requests and the agents' reports of them (docs/incidents.md).

A request (isolate or release) gives the host its next *generation*, queues a command that
carries it with the server's signature (``xunjian.core.wire.sign_command``, key from
``server/isolation/signing.py``) and cancels the host's isolation commands still pending, so
only the newest wish reaches the agent. The agent keeps the highest generation it ran and runs
nothing older or equal: a replayed command changes nothing. The generation continues from what
the agent reported too, so a server restored from an old backup still issues commands the
agent will take.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.incidents.store import record_event
from server.isolation.signing import command_signing_key
from server.store.isolation import (
    CUT_OFF_STATES,
    SHOWN_STATES,
    IsolationView,
    count_isolated,
    isolated_host_ids,
    isolation_of,
    view,
)
from server.store.models import DEVICE_PLATFORM, Agent, Command, HostIsolation, utcnow
from xunjian.core.contract import (
    COMMAND_ISOLATE,
    COMMAND_RELEASE,
    ISOLATION_COMMANDS,
    ISOLATION_REASON_MAX,
)
from xunjian.core.wire import sign_command

ACTIONS = {"isolate": COMMAND_ISOLATE, "release": COMMAND_RELEASE}
# Read here and by every page that shows a host (server/store/isolation.py).
__all__ = [
    "CUT_OFF_STATES",
    "SHOWN_STATES",
    "IsolationView",
    "count_isolated",
    "isolated_host_ids",
    "isolation_of",
    "view",
]


class IsolationRefused(Exception):
    """A request that changes nothing; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check_reason(reason: str) -> str:
    """A reason is required (the log keeps it): one line, printable, at most 500."""
    cleaned = " ".join(reason.split())
    if not cleaned:
        raise IsolationRefused(400, "reason: say why (required)")
    if len(cleaned) > ISOLATION_REASON_MAX:
        raise IsolationRefused(400, f"reason: at most {ISOLATION_REASON_MAX} characters")
    if not cleaned.isprintable():
        raise IsolationRefused(400, "reason: printable characters only")
    return cleaned


@dataclass(frozen=True)
class Queued:
    command_id: str
    action: str
    generation: int
    reason: str
    cancelled: int  # older isolation commands of the host taken back before delivery


def request(
    session: Session,
    data_dir: Path,
    agent_id: str,
    action: str,
    reason: str,
    requested_by: str,
    user_id: int | None,
) -> Queued:
    """Queue ``isolate`` or ``release`` for a host, signed; the caller commits."""
    if action not in ACTIONS:
        raise IsolationRefused(400, f"action: must be one of {', '.join(ACTIONS)}")
    reason = check_reason(reason)
    agent = session.get(Agent, agent_id)
    if agent is None:
        raise IsolationRefused(404, "no such host")
    if agent.revoked_at is not None:
        raise IsolationRefused(409, "the host is revoked")
    if agent.platform == DEVICE_PLATFORM:
        raise IsolationRefused(409, "a network device has no agent to isolate it")
    row = session.get(HostIsolation, agent_id, with_for_update=True)
    if action == "release" and (row is None or not view(row).shown):
        raise IsolationRefused(409, "the host is not isolated")
    if action == "isolate" and row is not None and view(row).status in ("isolating", "isolated"):
        raise IsolationRefused(409, "the host is isolated already (or being isolated)")
    now = utcnow()
    previous = max(row.generation, row.reported_generation or 0) if row else 0
    generation = previous + 1
    command_type = ACTIONS[action]
    command_id = str(uuid.uuid4())
    signature = sign_command(
        command_signing_key(data_dir), agent_id, command_id, command_type, generation
    )
    cancelled = session.execute(
        update(Command)
        .where(
            Command.agent_id == agent_id,
            Command.type.in_(ISOLATION_COMMANDS),
            Command.acked_at.is_(None),
        )
        .values(acked_at=now)
    ).rowcount
    session.add(
        Command(
            id=command_id,
            agent_id=agent_id,
            type=command_type,
            created_at=now,
            created_by=user_id,
            payload={"generation": generation, "signature": signature},
        )
    )
    if row is None:
        row = HostIsolation(agent_id=agent_id, backend="", rules="", error="")
        row.released_by, row.release_reason = "", ""
        session.add(row)
    row.wanted = "isolated" if action == "isolate" else "released"
    row.generation = generation
    row.reason = reason
    row.requested_by = requested_by[:100]
    row.requested_at = now
    row.command_id = command_id
    try:
        session.flush()
    except IntegrityError:
        # Two first requests for one host at the same moment: the other one's row won.
        session.rollback()
        raise IsolationRefused(
            409, "another request for this host came at the same moment"
        ) from None
    # On the timeline of the host's open incidents (I2: what was done, by whom, why).
    verb = "断网隔离" if action == "isolate" else "解除隔离"
    record_event(
        session,
        kind="isolated" if action == "isolate" else "released",
        text=f"{requested_by} 下令{verb}（第 {generation} 次），原因：{reason}",
        actor=requested_by,
        host_id=agent_id,
        details={"command_id": command_id, "generation": generation, "requested": True},
    )
    return Queued(command_id, action, generation, reason, int(cancelled or 0))


@dataclass(frozen=True)
class ReportOutcome:
    state: str
    generation: int
    changed: bool  # a new state or generation
    break_glass: bool  # the report is a break-glass release the server did not know of


def record_report(
    connection: Connection, agent_id: str, report: dict[str, object]
) -> ReportOutcome | None:
    """Keep what an agent's heartbeat says of its isolation (contract IsolationReport, already
    validated); an older generation than the one kept is ignored. Runs on the heartbeat's
    transaction."""
    state = str(report["state"])
    generation = int(report["generation"])  # type: ignore[call-overload]
    row = connection.execute(
        select(
            HostIsolation.reported_state,
            HostIsolation.reported_generation,
            HostIsolation.generation,
        ).where(HostIsolation.agent_id == agent_id)
    ).first()
    now = utcnow()
    changed_at = report.get("changed_at")
    if isinstance(changed_at, datetime.datetime):
        changed_at = changed_at.astimezone(datetime.UTC).replace(tzinfo=None)
    values = {
        "reported_state": state,
        "reported_generation": generation,
        "reported_at": now,
        "changed_at": changed_at,
        "backend": str(report.get("backend") or ""),
        "rules": str(report.get("rules") or ""),
        "error": str(report.get("error") or ""),
        "released_by": str(report.get("released_by") or ""),
        "release_reason": str(report.get("reason") or ""),
    }
    if row is None:
        # The server lost the record (a restored backup): the agent's word rebuilds it.
        connection.execute(
            HostIsolation.__table__.insert().values(
                agent_id=agent_id,
                wanted="isolated" if state == "isolated" else "released",
                generation=generation,
                reason="(reported by the agent; the server had no record)",
                requested_by="",
                requested_at=now,
                **values,
            )
        )
        return ReportOutcome(state, generation, True, state == "released_locally")
    if row.reported_generation is not None and generation < row.reported_generation:
        return None
    changed = row.reported_state != state or row.reported_generation != generation
    connection.execute(
        update(HostIsolation).where(HostIsolation.agent_id == agent_id).values(**values)
    )
    break_glass = state == "released_locally" and changed
    return ReportOutcome(state, generation, changed, break_glass)
