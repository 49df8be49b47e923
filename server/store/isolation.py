"""Reading hosts' isolation (docs/incidents.md) for every page and message that shows a host:
the request (``wanted``, ``generation``) read against the agent's last report gives the
status people see. The requests and the reports themselves are server/isolation's."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.store.models import Agent, HostIsolation

# Cut off, or about to be: counted on the dashboard, filtered by the hosts list.
CUT_OFF_STATES = ("isolating", "isolated", "releasing")
# Shown on every list: those, and an isolation or release that failed.
SHOWN_STATES = (*CUT_OFF_STATES, "failed")


@dataclass(frozen=True)
class IsolationView:
    """One host's isolation as people see it."""

    status: str  # isolating | isolated | releasing | failed | released | released_locally | ""
    wanted: str
    generation: int
    reason: str
    requested_by: str
    requested_at: datetime.datetime | None
    reported_state: str | None
    reported_at: datetime.datetime | None
    changed_at: datetime.datetime | None
    backend: str
    rules: str
    error: str
    released_by: str
    release_reason: str

    @property
    def isolated(self) -> bool:
        """Cut off, or about to be."""
        return self.status in CUT_OFF_STATES

    @property
    def shown(self) -> bool:
        """What every list must show: cut off, about to be, or a failed attempt."""
        return self.status in SHOWN_STATES

    def as_json(self) -> dict[str, object]:
        def iso(moment: datetime.datetime | None) -> str | None:
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None

        return {
            "status": self.status,
            "wanted": self.wanted,
            "generation": self.generation,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "requested_at": iso(self.requested_at),
            "reported_state": self.reported_state,
            "reported_at": iso(self.reported_at),
            "changed_at": iso(self.changed_at),
            "backend": self.backend,
            "rules": self.rules,
            "error": self.error,
            "released_by": self.released_by,
            "release_reason": self.release_reason,
        }


def _status(row: HostIsolation) -> str:
    """The wish (``wanted``, ``generation``) read against the agent's last word."""
    current = row.reported_generation == row.generation
    reported = row.reported_state
    if reported == "released_locally" and (row.reported_generation or 0) >= row.generation:
        return "released_locally"
    if row.wanted == "isolated":
        if not current:
            return "isolating"
        if reported == "isolated" and row.error:
            return "failed"  # meant to be isolated, but the rules did not go back on at a start
        return {"isolated": "isolated", "failed": "failed"}.get(reported or "", "isolating")
    if current:
        # A release the agent could not carry out leaves the host isolated: "failed".
        return "released" if reported == "released" else "failed"
    return "releasing" if reported in ("isolated", "failed") else "released"


def view(row: HostIsolation) -> IsolationView:
    return IsolationView(
        status=_status(row),
        wanted=row.wanted,
        generation=row.generation,
        reason=row.reason,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        reported_state=row.reported_state,
        reported_at=row.reported_at,
        changed_at=row.changed_at,
        backend=row.backend or "",
        rules=row.rules or "",
        error=row.error or "",
        released_by=row.released_by or "",
        release_reason=row.release_reason or "",
    )


def isolation_of(session: Session, agent_ids: Sequence[str]) -> dict[str, IsolationView]:
    """The hosts of a page that have an isolation record (one query)."""
    if not agent_ids:
        return {}
    rows = session.scalars(
        select(HostIsolation).where(HostIsolation.agent_id.in_(list(agent_ids)))
    ).all()
    return {row.agent_id: view(row) for row in rows}


def isolated_host_ids(session: Session) -> list[str]:
    """Hosts cut off or about to be (not revoked): the dashboard's and the filter's."""
    rows = session.scalars(
        select(HostIsolation)
        .join(Agent, Agent.id == HostIsolation.agent_id)
        .where(Agent.revoked_at.is_(None))
    ).all()
    return [row.agent_id for row in rows if view(row).isolated]


def count_isolated(session: Session) -> int:
    return len(isolated_host_ids(session))
