"""What a notifier is given (``AlertMessage``) and what it returns (``Delivery``).

The alert layer composes the text; a notifier only lays it out for its channel. Texts come in
Chinese and English (``LocalText``), as the check registry's titles do, and each channel's
settings choose which language(s) it shows.

A message's kind is an alert kind (``AlertKind``: the same set as ``server/alerts/models.py``
``KINDS``) or a notification-only kind (``NoticeKind``: the daily page digest), which the
channels title as what it is instead of as an alert of some severity.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    # The same closed set as check results (docs/architecture.md).
    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    # Exactly the kinds of alert rows (server/alerts/models.py KINDS; a test holds them equal).
    CHECK_FAILED = "check_failed"
    AGENT_SILENT = "agent_silent"
    DOWN = "down"
    TAMPER = "tamper"
    DEFAULT_CREDENTIAL = "default_credential"
    SPOOL_OVERFLOW = "spool_overflow"
    CERT = "cert"
    SLOW = "slow"
    WEBSHELL = "webshell"
    SENSITIVE_FILE = "sensitive_file"
    WATCH_FAILED = "watch_failed"
    BROKEN_LINKS = "broken_links"


class NoticeKind(StrEnum):
    """What the notifiers carry that is not an alert: no alert row stands behind it, so there
    is nothing to acknowledge, escalate or resolve. Kept apart from ``AlertKind`` so the
    alert worker, which queues alerts of ``AlertKind`` only, can never take one for an alert."""

    DIGEST = "digest"  # the daily page digest (server/monitors/digest.py, POLICY.md E7)
    TEST = "test"  # a channel's test message, sent from the console's settings


class IncidentKind(StrEnum):
    """An incident record (server/incidents): escalated through the on-call roster like an
    alert, with a severity, but acknowledged on its own page; its id is ``incident-<n>``."""

    INCIDENT = "incident"


MessageKind = AlertKind | NoticeKind | IncidentKind
NOTIFICATION_ONLY_KINDS: frozenset[str] = frozenset(kind.value for kind in NoticeKind)


def message_kind(value: str) -> MessageKind:
    """The kind named by ``value``, alert or notice; ``ValueError`` for an unknown one."""
    if value in NOTIFICATION_ONLY_KINDS:
        return NoticeKind(value)
    if value == IncidentKind.INCIDENT:
        return IncidentKind(value)
    return AlertKind(value)


@dataclass(frozen=True)
class LocalText:
    """One text in Chinese and English; ``en`` may be empty and then falls back to Chinese."""

    zh: str
    en: str = ""

    def __post_init__(self) -> None:
        if not self.zh.strip():
            raise ValueError("LocalText.zh must not be empty")

    def get(self, language: str) -> str:
        if language == "en" and self.en.strip():
            return self.en
        return self.zh


@dataclass(frozen=True)
class AlertMessage:
    # An alert's id, or a notice's own reference (the digest's is "digest-YYYY-MM-DD"), or an
    # incident's ("incident-<n>").
    alert_id: str
    kind: MessageKind
    severity: Severity
    title: LocalText
    body: LocalText
    # What the alert is about: a host name, a monitored page's URL, a device address.
    subject: str
    opened_at: datetime.datetime
    console_url: str | None = None

    def __post_init__(self) -> None:
        # Coerce plain strings so a caller passing "high" gets the same object as Severity.HIGH;
        # an unknown value fails here, at the caller, not later inside a channel.
        object.__setattr__(self, "kind", message_kind(self.kind))
        object.__setattr__(self, "severity", Severity(self.severity))
        if not self.alert_id:
            raise ValueError("AlertMessage.alert_id must not be empty")
        if self.opened_at.tzinfo is None:
            # A naive time is ambiguous between the server's zone and UTC; refuse it.
            raise ValueError("AlertMessage.opened_at must carry a time zone")

    @property
    def is_notice(self) -> bool:
        """True for a notification-only kind (the digest): not an alert, titled as itself."""
        return isinstance(self.kind, NoticeKind)


@dataclass(frozen=True)
class Delivery:
    """A channel accepted the message. ``target`` names where it went without any secret
    (no access token, key or password), so it can be stored and shown."""

    kind: str
    target: str
    detail: str
