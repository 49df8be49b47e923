"""What the fleet pages show of network devices (server/devices): each device has a row in
``agents`` (platform ``device``) so its results, alerts and reports work like an agent's, but it
never sends heartbeats, so "online" and "offline" say nothing about it. The pages show a device
as a device instead: its type and its last check (when, and what it found), read here from the
``devices`` table in one query per page."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.devices.labels import NOT_CHECKED_LABEL, OUTCOME_CLASSES, outcome_label, type_label
from server.devices.models import OUTCOMES, Device
from server.store.models import Agent, utcnow

# Not an outcome of the prober: a device added but not checked yet.
NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class DeviceState:
    """A device's inventory entry and its last check, for the hosts list and its host page."""

    device_id: int
    type: str
    address: str
    port: int
    key_user: str
    authorised_by: str
    authorisation: str
    last_checked_at: datetime.datetime | None
    last_outcome: str | None
    last_message: str
    last_attempts: int
    org_key_accepted: bool | None
    credential_user: str | None  # the user whose vendor default was accepted; never a password
    due_at: datetime.datetime | None
    checking: bool  # a check holds the device right now

    @property
    def type_label(self) -> str:
        return type_label(self.type)

    @property
    def outcome(self) -> str:
        return self.last_outcome or NOT_CHECKED

    @property
    def outcome_label(self) -> str:
        return outcome_label(self.last_outcome) or str(NOT_CHECKED_LABEL)

    @property
    def outcome_class(self) -> str:
        return OUTCOME_CLASSES.get(self.last_outcome or "", "not_applicable")

    @property
    def key_refused(self) -> bool:
        """A Linux device that refused the organisation's key: its collectors did not run.
        (Other types are not expected to take the key; unreachable devices were not asked.)"""
        return self.type == "linux" and self.org_key_accepted is False


def device_states(session: Session, agent_ids: Sequence[str]) -> dict[str, DeviceState]:
    """{agent id: device} for those of ``agent_ids`` that are devices."""
    if not agent_ids:
        return {}
    now = utcnow()
    rows = session.scalars(select(Device).where(Device.agent_id.in_(agent_ids))).all()
    return {
        row.agent_id: DeviceState(
            device_id=row.id,
            type=row.type,
            address=row.address,
            port=row.port,
            key_user=row.key_user,
            authorised_by=row.authorised_by,
            authorisation=row.authorisation,
            last_checked_at=row.last_checked_at,
            last_outcome=row.last_outcome,
            last_message=row.last_message or "",
            last_attempts=row.last_attempts or 0,
            org_key_accepted=row.org_key_accepted,
            credential_user=row.credential_user,
            due_at=row.due_at,
            checking=row.claimed_until is not None and row.claimed_until > now,
        )
        for row in rows
    }


@dataclass(frozen=True)
class OutcomeCount:
    outcome: str  # one of server/devices/models.py OUTCOMES, or NOT_CHECKED
    label: str
    css: str
    count: int


def outcome_counts(session: Session) -> list[OutcomeCount]:
    """Devices (not revoked) per outcome of their last check, in OUTCOMES order (the finding
    first), then the ones not checked yet; outcomes no device has are left out."""
    outcome = func.coalesce(Device.last_outcome, NOT_CHECKED)
    rows = session.execute(
        select(outcome, func.count())
        .join(Agent, Agent.id == Device.agent_id)
        .where(Agent.revoked_at.is_(None))
        .group_by(outcome)
    ).all()
    counts = {str(name): int(count) for name, count in rows}
    order = {name: index for index, name in enumerate((*OUTCOMES, NOT_CHECKED))}
    return [
        OutcomeCount(
            outcome=name,
            label=outcome_label(name) if name != NOT_CHECKED else str(NOT_CHECKED_LABEL),
            css=OUTCOME_CLASSES.get(name, "not_applicable"),
            count=count,
        )
        for name, count in sorted(counts.items(), key=lambda item: order.get(item[0], 99))
    ]
