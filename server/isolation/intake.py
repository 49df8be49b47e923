"""What the agent API hands to isolation: the command key for enrollment and heartbeat answers,
and the isolation report a heartbeat carries (recorded, and in the operation log when it
changed: a break-glass release especially, which the server learns only now)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from server.incidents.store import record_event
from server.isolation.signing import command_key_text
from server.isolation.store import record_report
from server.oplog.hook import record
from server.state import current_state, events


def command_key() -> str:
    return command_key_text(current_state().paths.root)


# What the agent's word adds to the host's open incidents' timeline (the request itself is
# recorded when it is made, server/isolation/store.py).
_TIMELINE = {
    "isolated": ("isolated", "主机已断网隔离，规则已生效并经验证（{backend}）"),
    "released": ("released", "主机已解除隔离"),
    "released_locally": ("released", "主机本地紧急解除隔离（{released_by}），原因：{reason}"),
    "failed": ("isolation_failed", "隔离操作未成功：{error}"),
}


def take_report(agent_id: str, report: dict[str, Any]) -> None:
    with current_state().engine.begin() as connection:
        outcome = record_report(connection, agent_id, report)
        if outcome is not None and outcome.changed:
            kind, text = _TIMELINE[outcome.state]
            fields = {key: str(report.get(key) or "")[:500] for key in
                      ("backend", "released_by", "reason", "error")}  # fmt: skip
            with Session(bind=connection) as session:
                record_event(
                    session,
                    kind=kind,
                    text=text.format(**fields),
                    actor=f"agent:{agent_id}",
                    host_id=agent_id,
                    details={"state": outcome.state, "generation": outcome.generation},
                )
    if outcome is None or not outcome.changed:
        return
    action = "agent.isolation.break_glass" if outcome.break_glass else "agent.isolation.report"
    details: dict[str, Any] = {"state": outcome.state, "generation": outcome.generation}
    for key in ("error", "released_by", "reason", "backend"):
        if report.get(key):
            details[key] = str(report[key])[:500]
    record(
        action,
        target=f"host:{agent_id}",
        actor=f"agent:{agent_id}",
        role="agent",
        outcome="ok" if outcome.state != "failed" else "error",
        details=details,
    )
    events.info(
        "agent %s reports isolation %s (generation %d)", agent_id, outcome.state, outcome.generation
    )
