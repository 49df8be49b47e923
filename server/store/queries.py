"""Read queries shared by the REST API and the console: hosts with their state, and a host's
latest results and inventory. Each page is a fixed number of queries, whatever its size."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.store.models import DEVICE_PLATFORM, Agent, Group, Inventory, LatestResult, utcnow


@dataclass(frozen=True)
class HostRow:
    id: str
    hostname: str
    group: str
    os: str
    platform: str
    last_seen: datetime.datetime | None
    revoked: bool
    online: bool
    failing: int
    # The OS's release and build as the host's newest scan said ("22H2", "19045.2130").
    os_version: str = ""
    os_build: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hostname": self.hostname,
            "group": self.group,
            "os": self.os,
            "os_version": self.os_version,
            "os_build": self.os_build,
            "platform": self.platform,
            "online": self.online,
            "last_seen": iso(self.last_seen),
            "revoked": self.revoked,
            "failing": self.failing,
        }


def iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


def is_online(last_seen: datetime.datetime | None, offline_after_seconds: int) -> bool:
    if last_seen is None:
        return False
    return utcnow() - last_seen < datetime.timedelta(seconds=offline_after_seconds)


def _failing_counts() -> Any:
    return (
        select(LatestResult.agent_id, func.count().label("failing"))
        .where(LatestResult.status == "fail")
        .group_by(LatestResult.agent_id)
        .subquery()
    )


def _host_select() -> Any:
    failing = _failing_counts()
    return (
        select(
            Agent.id,
            Agent.hostname,
            Group.name.label("group"),
            Agent.os,
            Agent.os_version,
            Agent.os_build,
            Agent.platform,
            Agent.last_seen,
            Agent.revoked_at,
            func.coalesce(failing.c.failing, 0).label("failing"),
        )
        .join(Group, Group.id == Agent.group_id)
        .outerjoin(failing, failing.c.agent_id == Agent.id)
    )


def _host_row(row: Any, offline_after_seconds: int) -> HostRow:
    return HostRow(
        id=row.id,
        hostname=row.hostname,
        group=row.group,
        os=row.os,
        os_version=row.os_version,
        os_build=row.os_build,
        platform=row.platform,
        last_seen=row.last_seen,
        revoked=row.revoked_at is not None,
        # A stored device check touches last_seen like a heartbeat; it says nothing of "online".
        online=row.revoked_at is None
        and row.platform != DEVICE_PLATFORM
        and is_online(row.last_seen, offline_after_seconds),
        failing=int(row.failing),
    )


def list_hosts(
    session: Session, offline_after_seconds: int, limit: int, offset: int
) -> tuple[list[HostRow], int]:
    total = session.scalar(select(func.count()).select_from(Agent)) or 0
    rows = session.execute(
        _host_select().order_by(Agent.hostname, Agent.id).limit(limit).offset(offset)
    ).all()
    return [_host_row(row, offline_after_seconds) for row in rows], int(total)


def get_host(session: Session, agent_id: str, offline_after_seconds: int) -> HostRow | None:
    row = session.execute(_host_select().where(Agent.id == agent_id)).first()
    return None if row is None else _host_row(row, offline_after_seconds)


# Worst first, so the console and API lead with what needs attention.
STATUS_ORDER = {"fail": 0, "error": 1, "no_privilege": 2, "pass": 3, "not_applicable": 4}


def latest_results(session: Session, agent_id: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(LatestResult)
        .where(LatestResult.agent_id == agent_id)
        .order_by(LatestResult.check_id, LatestResult.resource)
    ).all()
    # A full scan that changed nothing writes no latest row, only the agent's scan time
    # (server/intake/report.py), and every latest row it did not retire was in it: a result
    # was last observed at the later of the two.
    scanned = session.scalar(select(Agent.scan_observed_at).where(Agent.id == agent_id))
    results = [
        {
            "check_id": row.check_id,
            "status": row.status,
            "resource": row.resource,
            "message": row.message,
            "evidence": row.evidence,
            "severity": row.severity,
            "rules": row.rules,
            "observed_at": iso(
                row.observed_at if scanned is None or row.observed_at >= scanned else scanned
            ),
            "message_id": (row.said or {}).get("id"),
            "params": (row.said or {}).get("params"),
        }
        for row in rows
    ]
    results.sort(key=lambda result: STATUS_ORDER.get(result["status"], 9))
    return results


def inventory(session: Session, agent_id: str) -> dict[str, Any] | None:
    row = session.get(Inventory, agent_id)
    return None if row is None else {"data": row.data, "observed_at": iso(row.observed_at)}
