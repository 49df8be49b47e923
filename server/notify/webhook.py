"""``webhook``: a generic JSON POST, for scripts and systems of the school's own.

Payload (``version`` changes only when a field changes meaning or goes away)::

    {"version": 1,
     "alert": {"id": "...", "kind": "check_failed", "severity": "high",
               "title": {"zh": "...", "en": "..."}, "body": {"zh": "...", "en": "..."},
               "subject": "pc-101", "opened_at": "2026-11-23T10:00:00+08:00",
               "console_url": "https://..." | null},
     "text": "<the message as plain text in the channel's language>"}

``kind`` is an alert kind or a notice kind, not an alert: ``digest``, the daily page digest,
whose ``id`` (``digest-YYYY-MM-DD``) names no alert, or ``test``, a channel's test message
from the console. A notice's ``severity`` is always ``info``. ``incident`` is an incident record
escalated through the on-call roster (server/incidents); its ``id`` is ``incident-<n>``.

With a ``secret`` the request carries ``X-Xunjian-Timestamp`` (Unix seconds) and
``X-Xunjian-Signature: sha256=<hex>``, the HMAC-SHA256 with the secret as key over
``TIMESTAMP + "." + BODY`` (the body's exact bytes). A receiver recomputes it, compares in
constant time, and refuses a timestamp too far from its clock (replays). Any 2xx is success.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any

from server.notify import render, transport
from server.notify.base import Notifier
from server.notify.errors import ConfigError
from server.notify.message import AlertMessage, Delivery
from server.notify.settings import HttpSettings, check_url, describe_url

TIMESTAMP_HEADER = "X-Xunjian-Timestamp"
SIGNATURE_HEADER = "X-Xunjian-Signature"
PAYLOAD_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class WebhookSettings(HttpSettings):
    url: str
    secret: str | None = field(default=None, repr=False)

    def validate(self, kind: str) -> None:
        self.validate_http(kind)
        check_url(kind, "url", self.url, allow_http=self.allow_http)
        if self.secret is not None and len(self.secret) < 16:
            raise ConfigError(kind, "secret", "must be at least 16 characters, or absent")


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_payload(message: AlertMessage, language: str) -> dict[str, Any]:
    return {
        "version": PAYLOAD_VERSION,
        "alert": {
            "id": message.alert_id,
            "kind": str(message.kind),
            "severity": str(message.severity),
            "title": {"zh": message.title.zh, "en": message.title.en},
            "body": {"zh": message.body.zh, "en": message.body.en},
            "subject": message.subject,
            "opened_at": message.opened_at.isoformat(),
            "console_url": message.console_url,
        },
        "text": render.plain_text(message, language),
    }


class WebhookNotifier(Notifier[WebhookSettings]):
    kind = "webhook"
    settings_class = WebhookSettings

    def send(self, message: AlertMessage) -> Delivery:
        settings = self.settings
        body = transport.encode_json(webhook_payload(message, settings.language))
        headers: dict[str, str] = {}
        if settings.secret is not None:
            timestamp = str(int(time.time()))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = webhook_signature(settings.secret, timestamp, body)
        reply = transport.post_json(
            settings.url,
            body,
            timeout=settings.timeout_seconds,
            ca_file=settings.ca_file,
            headers=headers,
        )
        return Delivery(self.kind, describe_url(settings.url), f"HTTP {reply.status}")
