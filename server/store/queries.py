"""Read queries shared by the REST API and the console: a host's latest results and inventory
(the hosts with their state are the fleet's, server/fleet/store.py). Each page is a fixed
number of queries, whatever its size."""

from __future__ import annotations

import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.store.models import Agent, Inventory, LatestResult


def iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.replace(microsecond=0).isoformat() + "Z"


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
