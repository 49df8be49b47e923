"""The error hierarchy of the check library.

Collectors raise these instead of returning empty facts, so that "could not look" never reads
as "nothing found". The engine maps each to a result status:

    CollectError            -> error
    ├── NoPrivilege         -> no_privilege   (e.g. /etc/shadow unreadable as non-root)
    ├── NotApplicable       -> not_applicable (e.g. no OpenSSH server, commands off under --root)
    └── CommandError        -> error
        ├── CommandUnavailable   not installed (HostContext.run turns it into NotApplicable)
        └── CommandTimeout
    RegistryError           -> raised at import time for bad check metadata
    ParameterError          -> error for the one check whose policy parameters are wrong
"""

from __future__ import annotations

from typing import Any


class CollectError(Exception):
    """A fact could not be collected.

    ``message_id`` and ``params`` (checks/messages.py) say the sentence in the reader's
    language when the engine turns the error into a result; ``checks.messages.said`` makes an
    error with its English from the id. Without them the result is the English alone."""

    def __init__(
        self, *args: Any, message_id: str = "", params: dict[str, str] | None = None
    ) -> None:
        super().__init__(*args)
        self.message_id = message_id
        self.params = dict(params or {})


class NoPrivilege(CollectError):
    """The agent's account may not read what the fact needs."""


class NotApplicable(CollectError):
    """The fact does not exist on this host, or cannot be looked at in this mode."""


class CommandError(CollectError):
    """A command could not be run to completion."""


class CommandUnavailable(CommandError):
    """The program is not installed (or not on PATH)."""


class CommandTimeout(CommandError):
    """The program ran longer than its timeout and was killed."""


class RegistryError(Exception):
    """A check's metadata in the registry is invalid."""


class ParameterError(Exception):
    """A policy gave a check a parameter of the wrong type or value."""
