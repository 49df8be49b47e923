"""The incidents' REST bodies (``/api/v1/incidents...``, server/incidents/api.py): the listing's
query, opening, notes, acknowledge and close, and the incident as answered. They validate the
requests and make ``/api/v1/openapi.json`` (docs/architecture.md, "Bodies and validation")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType

from server.incidents.models import STATUSES, TEXT_LENGTH, TITLE_LENGTH
from server.rest import Paging
from xunjian.core.contract import SEVERITIES
from xunjian.core.contract.bodies import Uuid
from xunjian.core.schema import Body

# Text of at least one character that is not white space.
NoteText = Annotated[str, Meta(min_length=1, max_length=TEXT_LENGTH, pattern=r"\S")]
TitleText = Annotated[str, Meta(min_length=1, max_length=TITLE_LENGTH, pattern=r"\S")]
AlertId = Annotated[int, Meta(ge=1, le=2**63 - 1)]


class IncidentsQuery(Paging, kw_only=True):
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]


class NewIncident(Body):
    """Open an incident from an alert (``alert_id``) or for a host (``host_id``, an agent id);
    exactly one of them. ``title`` and ``severity`` default to the alert's."""

    alert_id: AlertId | UnsetType = UNSET
    host_id: Uuid | UnsetType = UNSET
    title: TitleText | UnsetType = UNSET
    severity: Literal[SEVERITIES] | UnsetType = UNSET  # type: ignore[valid-type]
    note: NoteText | UnsetType = UNSET


class IncidentChange(Body):
    """Acknowledge or close: an empty body, ``{}`` or ``{"note": text}``."""

    note: NoteText | UnsetType = UNSET


class AlertLink(Body):
    """Tie one more alert to the incident."""

    alert_id: AlertId


class NewNote(Body):
    text: NoteText


class IncidentEvent(Body):
    at: str
    kind: str
    actor: str
    text: str
    details: dict[str, Any]


class IncidentNotification(Body):
    channel: str
    tier: int | None
    status: str
    attempts: int
    sent_at: str | None
    last_error: str | None


class IncidentHost(Body):
    id: str | None
    hostname: str


class Incident(Body):
    id: int
    title: str
    severity: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    host: IncidentHost | None
    alert_ids: list[int]
    opened_at: str
    opened_by: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    closed_at: str | None
    closed_by: str | None
    timeline: list[IncidentEvent]
    notifications: list[IncidentNotification]
    evidence_sha256: list[str]


class IncidentSummary(Body):
    id: int
    title: str
    severity: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    host: IncidentHost | None
    opened_at: str
    acknowledged_by: str | None
    closed_at: str | None


class IncidentPage(Body):
    incidents: list[IncidentSummary]
    total: int
    limit: int
    offset: int
