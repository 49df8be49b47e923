"""Notifiers: the channels alerts are sent through (mail, a generic webhook, and the DingTalk,
WeCom and Feishu group robots), and notices that are not alerts (the daily page digest).
See docs/notifiers.md.

    notifier = build_notifier("dingtalk", {"webhook_url": ..., "secret": "SEC..."})
    delivery = notifier.send(message)   # or TemporaryFailure / PermanentFailure

Imports only the standard library, so the alert worker can use it without Flask.
"""

from server.notify.base import Notifier
from server.notify.errors import ConfigError, NotifierError, PermanentFailure, TemporaryFailure
from server.notify.message import (
    NOTIFICATION_ONLY_KINDS,
    AlertKind,
    AlertMessage,
    Delivery,
    IncidentKind,
    LocalText,
    MessageKind,
    NoticeKind,
    Severity,
)
from server.notify.registry import NOTIFIERS, build_notifier

__all__ = [
    "NOTIFICATION_ONLY_KINDS",
    "NOTIFIERS",
    "AlertKind",
    "AlertMessage",
    "ConfigError",
    "Delivery",
    "IncidentKind",
    "LocalText",
    "MessageKind",
    "NoticeKind",
    "Notifier",
    "NotifierError",
    "PermanentFailure",
    "Severity",
    "TemporaryFailure",
    "build_notifier",
]
