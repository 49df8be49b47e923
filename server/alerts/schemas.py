"""The alerts' REST bodies (``/api/v1/alerts...``, server/alerts/api.py): the listing's query,
the bodies of acknowledge, resolve and comment, and the alert as answered; docs/architecture.md,
"Bodies and validation"."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, UnsetType

from server.alerts.models import COMMENT_LENGTH, STATUSES
from server.rest import Paging
from xunjian.core.schema import Body

# Text of at least one character that is not white space.
CommentText = Annotated[str, Meta(min_length=1, max_length=COMMENT_LENGTH, pattern=r"\S")]


class AlertsQuery(Paging, kw_only=True):
    status: Literal[STATUSES] | None = None  # type: ignore[valid-type]


class AlertChange(Body):
    """Acknowledge or resolve: an empty body, ``{}`` or ``{"comment": text}``."""

    comment: CommentText | UnsetType = UNSET


class NewComment(Body):
    text: CommentText


class AlertComment(Body):
    at: str | None
    author: str
    text: str


class AlertHost(Body):
    id: str
    hostname: str | None


class AlertMonitor(Body):
    """The page monitor an alert is about (server/monitors)."""

    id: int
    url: str


class Alert(Body):
    id: int
    kind: str
    severity: str
    status: Literal[STATUSES]  # type: ignore[valid-type]
    subject: str
    host: AlertHost | None
    monitor: AlertMonitor | None
    check_id: str | None
    resource: str | None
    message: str
    opened_at: str | None
    acknowledged_by: str | None
    acknowledged_at: str | None
    resolved_by: str | None
    resolved_at: str | None
    comments: list[AlertComment]


class AlertPage(Body):
    alerts: list[Alert]
    total: int
    limit: int
    offset: int
