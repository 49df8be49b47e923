"""The notifiers' error hierarchy: the alert worker decides retry or give-up from the class alone.

    NotifierError
    ├── ConfigError        the settings are wrong; raised before anything is sent
    ├── TemporaryFailure   worth retrying: timeouts, refused connections, HTTP 5xx and 429,
    │                      a robot's "too many messages" code, SMTP 4xx
    └── PermanentFailure   retrying the same message cannot help: HTTP 4xx, a robot's
                           "bad signature / bad key / bad payload" code, SMTP 5xx, no TLS

Messages never contain secrets (robot keys, access tokens, passwords): they end up in the
alert's row and the operation log.
"""

from __future__ import annotations


class NotifierError(Exception):
    """Base of every error a notifier raises; ``retry`` says whether sending again may work."""

    retry: bool = False


class ConfigError(NotifierError):
    """A notifier's settings are invalid; the message names the setting and the reason."""

    def __init__(self, kind: str, setting: str, reason: str) -> None:
        self.kind = kind
        self.setting = setting
        self.reason = reason
        super().__init__(f"{kind}: {setting}: {reason}")


class TemporaryFailure(NotifierError):
    """The channel did not take the message this time; the worker should retry later.

    ``retry_after`` is the wait the receiver asked for (HTTP ``Retry-After``), if any."""

    retry = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class PermanentFailure(NotifierError):
    """The channel refused the message for a reason a retry cannot fix (fix the settings)."""
