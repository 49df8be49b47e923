"""The interface every notifier has: built from its settings, then ``send(message)``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Generic, Self, TypeVar

from server.notify.message import AlertMessage, Delivery
from server.notify.settings import parse_settings

SettingsT = TypeVar("SettingsT")


class Notifier(ABC, Generic[SettingsT]):
    """One channel. ``kind`` is its key in the registry; ``settings_class`` its frozen
    dataclass of settings. Instances hold no connection and are safe to reuse and share."""

    kind: ClassVar[str]
    settings_class: ClassVar[type[Any]]

    def __init__(self, settings: SettingsT) -> None:
        self.settings = settings

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Self:
        """Validate stored settings (a JSON object) and build the notifier; ``ConfigError``."""
        return cls(parse_settings(cls.settings_class, cls.kind, raw))

    @abstractmethod
    def send(self, message: AlertMessage) -> Delivery:
        """Deliver one message; raises ``TemporaryFailure`` or ``PermanentFailure``."""

    def __repr__(self) -> str:
        # The settings' repr hides secrets (their fields are declared repr=False).
        return f"{type(self).__name__}({self.settings!r})"
