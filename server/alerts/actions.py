"""What a person does to an alert: acknowledge, resolve, comment. One implementation for the
REST API (server/alerts/api.py) and the console (server/alerts/views.py); each caller checks
the role and reads its own input format, then calls these and maps ``AlertActionError`` to its
own answer (JSON or a page).

The changes are conditional UPDATEs: two people (or the server resolving the alert) at the same
moment cannot both win, and the first acknowledgement is the one kept.
"""

from __future__ import annotations

import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from server.alerts.models import COMMENT_LENGTH, Alert, AlertComment
from server.state import events
from server.store.models import utcnow

WRITER_ROLES = ("admin", "operator")
ACTIONS = ("ack", "resolve")


class AlertActionError(Exception):
    """The action cannot be done; ``status`` is the HTTP status that says why (404, 409)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def may_change_alerts(role: str) -> bool:
    return role in WRITER_ROLES


def clean_comment(text: object) -> str | None:
    """A comment as stored (surrounding space removed), or None when it is not 1..2000
    characters of text."""
    if not isinstance(text, str):
        return None
    stripped = text.strip()
    if not 0 < len(stripped) <= COMMENT_LENGTH:
        return None
    return stripped


def _new_comment(alert_id: int, author: str, text: str, now: datetime.datetime) -> AlertComment:
    return AlertComment(alert_id=alert_id, at=now, author=author, text=text.strip())


def change_alert(
    session: Session, alert_id: int, action: str, user_name: str, comment: str | None = None
) -> Alert:
    """Acknowledge (``action="ack"``) or resolve the alert, with an optional comment, and
    commit. Acknowledging an acknowledged alert keeps the first acknowledgement (and adds the
    comment). Raises AlertActionError 404 for no such alert, 409 when it is resolved already."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
    now = utcnow()
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertActionError(404, "no such alert")
    if action == "ack":
        changed = session.execute(
            update(Alert)
            .where(
                Alert.id == alert_id,
                Alert.resolved_at.is_(None),
                Alert.acknowledged_at.is_(None),
            )
            .values(acknowledged_at=now, acknowledged_by=user_name)
        ).rowcount
    else:
        changed = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by=user_name, open_key=None)
        ).rowcount
    session.refresh(alert)
    if not changed and alert.resolved_at is not None:
        session.rollback()
        raise AlertActionError(409, f"alert {alert_id} is resolved already")
    if comment is not None:
        session.add(_new_comment(alert_id, user_name, comment, now))
    session.commit()
    events.info("user %s: %s alert %s", user_name, action, alert_id)
    return alert


def add_comment(session: Session, alert_id: int, user_name: str, text: str) -> AlertComment:
    """Add a comment and commit; AlertActionError 404 for no such alert. A resolved alert may
    still be commented on (what was found afterwards belongs with it)."""
    if session.get(Alert, alert_id) is None:
        raise AlertActionError(404, "no such alert")
    item = _new_comment(alert_id, user_name, text, utcnow())
    session.add(item)
    session.commit()
    events.info("user %s: comment on alert %s", user_name, alert_id)
    return item
