"""What happens to an incident, on a session: open (from an alert or a host), add a timeline
event (``record_event``, the function other features call), note, acknowledge, close, and the
reads the pages, the API, the CLI and the report share.

None of these commit except where said: a feature that records an event (isolation, evidence)
does it inside its own transaction, so the timeline never claims what its change did not do.
The changes of state are conditional UPDATEs, as for alerts (server/alerts/actions.py): two
people acknowledging at once keep the first acknowledgement; nothing changes a closed incident
but a note or an event.
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.alerts.models import Alert
from server.incidents.models import (
    ACTOR_LENGTH,
    KIND_LENGTH,
    TEXT_LENGTH,
    TITLE_LENGTH,
    Incident,
    IncidentAlert,
    IncidentEvent,
    IncidentNotification,
)
from server.state import events
from server.store.models import Agent, utcnow
from xunjian.core.contract import SEVERITIES

WRITER_ROLES = ("admin", "operator")
# Event kinds are open (isolation and evidence add theirs) but shaped: lower-case words.
EVENT_KIND = re.compile(rf"[a-z][a-z0-9_]{{0,{KIND_LENGTH - 1}}}")
MAX_DETAILS_KEYS = 20
# The kinds this package writes; the report and pages name them (views.EVENT_LABELS).
OPENED, ALERT, NOTE, ACKNOWLEDGED, ESCALATED, CLOSED = (
    "opened",
    "alert",
    "note",
    "acknowledged",
    "escalated",
    "closed",
)


class IncidentError(Exception):
    """The change cannot be made; ``status`` is the HTTP status that says why (400, 404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def may_change_incidents(role: str) -> bool:
    return role in WRITER_ROLES


def clean_text(text: object, limit: int = TEXT_LENGTH) -> str | None:
    """Text as stored (surrounding space removed), or None unless 1..limit characters."""
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    return stripped if 0 < len(stripped) <= limit else None


def _actor(actor: str) -> str:
    return (actor or "anonymous")[:ACTOR_LENGTH]


def _event(
    incident_id: int,
    kind: str,
    text: str,
    actor: str,
    details: Mapping[str, Any] | None = None,
    at: datetime.datetime | None = None,
) -> IncidentEvent:
    return IncidentEvent(
        incident_id=incident_id,
        at=at or utcnow(),
        kind=kind,
        actor=_actor(actor),
        text=text[:TEXT_LENGTH],
        details=dict(details or {}),
    )


def record_event(
    session: Session,
    *,
    kind: str,
    text: str,
    actor: str,
    incident_id: int | None = None,
    host_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    at: datetime.datetime | None = None,
) -> list[IncidentEvent]:
    """Add an event to an incident's timeline: to ``incident_id``, or to every incident of
    the host ``host_id`` (an agent id) that is not closed. Returns the events added (none when
    the host has no incident that is not closed). Flushes; the caller commits.

    ``kind`` is a lower-case word (``isolated``, ``released``, ``evidence``, ...); ``text``
    what a person reads in the timeline and the report (cut to 2000 characters); ``details``
    a small JSON object a machine reads back: the report lists every ``details["sha256"]``
    as an evidence hash, with ``details["name"]`` beside it when given. ``ValueError`` for a
    bad kind, empty text or both/neither target; ``IncidentError`` 404 for no such incident.
    """
    if (incident_id is None) == (host_id is None):
        raise ValueError("give exactly one of incident_id and host_id")
    if not EVENT_KIND.fullmatch(kind):
        raise ValueError(f"event kind must match {EVENT_KIND.pattern}")
    if not text.strip():
        raise ValueError("an event needs text")
    if details is not None:
        if len(details) > MAX_DETAILS_KEYS:
            raise ValueError(f"at most {MAX_DETAILS_KEYS} details")
        try:
            json.dumps(details)
        except (TypeError, ValueError):
            raise ValueError("details must be a JSON object (text, numbers, lists)") from None
    if incident_id is not None:
        if session.get(Incident, incident_id) is None:
            raise IncidentError(404, f"no incident {incident_id}")
        targets = [incident_id]
    else:
        targets = list(
            session.scalars(
                select(Incident.id)
                .where(Incident.agent_id == host_id, Incident.closed_at.is_(None))
                .order_by(Incident.id)
            )
        )
    added = [_event(target, kind, text.strip(), actor, details, at) for target in targets]
    session.add_all(added)
    session.flush()
    return added


@dataclass(frozen=True)
class Opened:
    incident: Incident
    alert_ids: tuple[int, ...]


def open_incident(
    session: Session,
    actor: str,
    *,
    alert_id: int | None = None,
    host_id: str | None = None,
    title: str | None = None,
    severity: str | None = None,
    note: str | None = None,
    commit: bool = True,
) -> Opened:
    """Open an incident from an alert (its host, severity and message become the incident's)
    or for a host, and commit. From an alert that already belongs to an incident:
    ``IncidentError`` 409 naming it. 404 for an unknown alert or host, 400 for a bad title or
    severity. ``commit=False`` only flushes, for a feature that opens one inside its own
    transaction (isolating a host that has no incident yet); a race on the same alert then
    rolls the caller's transaction back with the 409."""
    if (alert_id is None) == (host_id is None):
        raise IncidentError(400, "give exactly one of an alert and a host")
    if severity is not None and severity not in SEVERITIES:
        raise IncidentError(400, f"severity must be one of {', '.join(SEVERITIES)}")
    if title is not None and clean_text(title, TITLE_LENGTH) is None:
        raise IncidentError(400, f"a title is 1..{TITLE_LENGTH} characters")
    alert: Alert | None = None
    if alert_id is not None:
        alert = _free_alert(session, alert_id)
        host_id = alert.agent_id
    hostname = ""
    if host_id is not None:
        agent = session.get(Agent, host_id)
        if agent is None:
            raise IncidentError(404, f"no host {host_id}")
        hostname = agent.hostname
    default_title = (
        f"{alert.check_id or alert.kind} {alert.resource}".strip()
        if alert is not None
        else f"{hostname}"
    )
    now = utcnow()
    actor = _actor(actor)
    incident = Incident(
        title=(clean_text(title, TITLE_LENGTH) if title else None)
        or default_title[:TITLE_LENGTH]
        or "incident",
        severity=severity or (alert.severity if alert is not None else "high"),
        agent_id=host_id,
        hostname=hostname,
        opened_at=now,
        opened_by=actor,
    )
    session.add(incident)
    try:
        session.flush()
        linked: tuple[int, ...] = ()
        if alert is not None:
            session.add(IncidentAlert(incident_id=incident.id, alert_id=alert.id))
            session.flush()
            linked = (alert.id,)
    except IntegrityError:
        # Someone opened one from the same alert in the meantime (unique alert_id).
        session.rollback()
        raise IncidentError(409, f"alert {alert_id} belongs to an incident already") from None
    opened_text = f"事件由 {actor} 创建" + (
        f"，来自告警 #{alert.id}：{alert.message}" if alert is not None else ""
    )
    session.add(
        _event(
            incident.id,
            OPENED,
            opened_text,
            actor,
            {"alert_id": alert.id} if alert is not None else None,
            now,
        )
    )
    if note:
        session.add(_event(incident.id, NOTE, note, actor, None, now))
    if commit:
        session.commit()
    else:
        session.flush()
    events.info("user %s: opened incident %s", actor, incident.id)
    return Opened(incident, linked)


def _free_alert(session: Session, alert_id: int) -> Alert:
    """The alert, if it exists (else 404) and belongs to no incident yet (else 409): an alert
    is part of one incident at most."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise IncidentError(404, f"no alert {alert_id}")
    taken = incident_of_alert(session, alert_id)
    if taken is not None:
        raise IncidentError(409, f"alert {alert_id} belongs to incident {taken} already")
    return alert


def attach_alert(session: Session, incident_id: int, alert_id: int, actor: str) -> IncidentEvent:
    """Tie one more alert to an incident (a second symptom of the same event) and commit.
    404 for an unknown incident or alert; 409 when the alert belongs to an incident already
    or the incident is closed."""
    incident = get_incident(session, incident_id)
    if incident.closed_at is not None:
        raise IncidentError(409, f"incident {incident_id} is closed")
    alert = _free_alert(session, alert_id)
    session.add(IncidentAlert(incident_id=incident_id, alert_id=alert_id))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise IncidentError(409, f"alert {alert_id} belongs to an incident already") from None
    [event] = record_event(
        session,
        incident_id=incident_id,
        kind=ALERT,
        text=f"关联告警 #{alert.id}：{alert.message}",
        actor=actor,
        details={"alert_id": alert.id},
    )
    session.commit()
    events.info("user %s: alert %s joined incident %s", actor, alert_id, incident_id)
    return event


def open_incident_of_host(session: Session, host_id: str | None) -> int | None:
    """The newest incident of the host that is not closed: where a new alert of the same
    host most likely belongs (the alert page offers it)."""
    if host_id is None:
        return None
    return session.scalar(
        select(Incident.id)
        .where(Incident.agent_id == host_id, Incident.closed_at.is_(None))
        .order_by(Incident.id.desc())
        .limit(1)
    )


def where_status(statement: Select[Any], status: str | None) -> Select[Any]:
    """``statement`` on incidents narrowed to a state (``open``, ``acknowledged``, ``closed``)
    or to those not closed (``unresolved``); anything else (``all``, None) leaves it whole."""
    if status == "open":
        return statement.where(Incident.closed_at.is_(None), Incident.acknowledged_at.is_(None))
    if status == "acknowledged":
        return statement.where(Incident.closed_at.is_(None), Incident.acknowledged_at.is_not(None))
    if status == "closed":
        return statement.where(Incident.closed_at.is_not(None))
    if status == "unresolved":
        return statement.where(Incident.closed_at.is_(None))
    return statement


def incident_of_alert(session: Session, alert_id: int) -> int | None:
    return session.scalar(
        select(IncidentAlert.incident_id).where(IncidentAlert.alert_id == alert_id)
    )


def get_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentError(404, f"no incident {incident_id}")
    return incident


def add_note(session: Session, incident_id: int, actor: str, text: str) -> IncidentEvent:
    """A note on the timeline (also on a closed incident: what was found later belongs with
    it); commits."""
    get_incident(session, incident_id)
    cleaned = clean_text(text)
    if cleaned is None:
        raise IncidentError(400, f"a note is 1..{TEXT_LENGTH} characters")
    [event] = record_event(session, incident_id=incident_id, kind=NOTE, text=cleaned, actor=actor)
    session.commit()
    return event


def acknowledge(
    session: Session, incident_id: int, actor: str, note: str | None = None
) -> Incident:
    """Acknowledge: the escalation stops (no further tier is told). The first acknowledgement
    is kept; a closed incident answers 409. Commits."""
    incident = get_incident(session, incident_id)
    actor = _actor(actor)
    now = utcnow()
    changed = session.execute(
        update(Incident)
        .where(
            Incident.id == incident_id,
            Incident.closed_at.is_(None),
            Incident.acknowledged_at.is_(None),
        )
        .values(acknowledged_at=now, acknowledged_by=actor)
    ).rowcount
    session.refresh(incident)
    if not changed and incident.closed_at is not None:
        session.rollback()
        raise IncidentError(409, f"incident {incident_id} is closed")
    if changed:
        session.add(
            _event(incident_id, ACKNOWLEDGED, f"{actor} 已确认，升级通知停止", actor, None, now)
        )
    if note:
        session.add(_event(incident_id, NOTE, note, actor, None, now))
    session.commit()
    events.info("user %s: acknowledged incident %s", actor, incident_id)
    return incident


def close(session: Session, incident_id: int, actor: str, summary: str | None = None) -> Incident:
    """Close, with an optional summary (how it was handled); 409 when closed already. Pending
    notifications are no longer sent (the queue skips closed incidents). Commits."""
    incident = get_incident(session, incident_id)
    actor = _actor(actor)
    now = utcnow()
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.closed_at.is_(None))
        .values(closed_at=now, closed_by=actor)
    ).rowcount
    if not changed:
        session.rollback()
        raise IncidentError(409, f"incident {incident_id} is closed already")
    text = f"{actor} 关闭了事件" + (f"：{summary}" if summary else "")
    session.add(_event(incident_id, CLOSED, text, actor, None, now))
    session.commit()
    session.refresh(incident)
    events.info("user %s: closed incident %s", actor, incident_id)
    return incident


@dataclass(frozen=True)
class Record:
    """Everything known about one incident, for a page, an answer or the report."""

    incident: Incident
    alerts: list[Alert]
    timeline: list[IncidentEvent]
    notifications: list[IncidentNotification]

    def evidence(self) -> list[tuple[str, str]]:
        """(name, sha256) of every event that carries an evidence hash, in timeline order."""
        found = []
        for event in self.timeline:
            digest = (event.details or {}).get("sha256")
            if isinstance(digest, str) and digest:
                name = (event.details or {}).get("name")
                found.append((str(name) if name else event.kind, digest))
        return found


def load_record(session: Session, incident_id: int) -> Record:
    incident = get_incident(session, incident_id)
    alerts = list(
        session.scalars(
            select(Alert)
            .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
            .where(IncidentAlert.incident_id == incident_id)
            .order_by(Alert.id)
        )
    )
    timeline = list(
        session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id == incident_id)
            .order_by(IncidentEvent.at, IncidentEvent.id)
        )
    )
    notifications = list(
        session.scalars(
            select(IncidentNotification)
            .where(IncidentNotification.incident_id == incident_id)
            .order_by(IncidentNotification.id)
        )
    )
    return Record(incident, alerts, timeline, notifications)
