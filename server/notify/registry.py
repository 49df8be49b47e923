"""The one explicit map of notifier kinds. A new channel is added here and nowhere else; the
map is checked when this module loads, and tests fail when a kind has no test or no section
in docs/notifiers.md."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from server.notify.base import Notifier
from server.notify.dingtalk import DingTalkNotifier
from server.notify.errors import ConfigError
from server.notify.feishu import FeishuNotifier
from server.notify.smtp import EmailNotifier
from server.notify.webhook import WebhookNotifier
from server.notify.wecom import WeComNotifier

NOTIFIERS: Mapping[str, type[Notifier[Any]]] = MappingProxyType(
    {
        "email": EmailNotifier,
        "webhook": WebhookNotifier,
        "dingtalk": DingTalkNotifier,
        "wecom": WeComNotifier,
        "feishu": FeishuNotifier,
    }
)


def _check_registry() -> None:
    for kind, notifier in NOTIFIERS.items():
        if notifier.kind != kind:
            raise RuntimeError(f"notifier {notifier.__name__} says kind {notifier.kind!r}")
        settings = notifier.settings_class
        params = getattr(settings, "__dataclass_params__", None)
        if not dataclasses.is_dataclass(settings) or params is None or not params.frozen:
            raise RuntimeError(f"{notifier.__name__}.settings_class must be a frozen dataclass")


_check_registry()


def build_notifier(kind: str, settings: Mapping[str, Any]) -> Notifier[Any]:
    """The notifier for a stored channel; ``ConfigError`` for an unknown kind or bad settings."""
    notifier = NOTIFIERS.get(kind)
    if notifier is None:
        raise ConfigError(kind, "kind", f"unknown notifier; known: {sorted(NOTIFIERS)}")
    return notifier.from_mapping(settings)
