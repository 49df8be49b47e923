"""Channel secrets sealed at rest: the settings fields a notifier declares with ``repr=False``
(robot webhook addresses with their keys, signing secrets, SMTP passwords) are stored in
``notify_channel_settings.settings`` as ``"sealed:v1:" + <Fernet token>``, with a key derived
from DATA/secret-key for this purpose only (server/sealing.py).

A value without the marker is taken as plain text: rows written before sealing existed keep
working, and are sealed the next time the channel is saved. A sealed value that does not open
(DATA/secret-key was replaced, or the database was restored without its key) is an
``UnsealError`` naming the field, never the value.

No Flask here: the alert worker imports this module.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from server.notify import NOTIFIERS
from server.sealing import Sealer

# HKDF info: part of the key, so it never changes while sealed values exist.
PURPOSE = b"xunjian notify channel secrets v1"
MARKER = "sealed:v1:"


class UnsealError(ValueError):
    """A sealed setting that this server's secret key cannot open."""

    def __init__(self, field: str) -> None:
        self.field = field
        super().__init__(
            f"{field}: sealed with another DATA/secret-key; enter the secret again in the console"
        )


def secret_fields(kind: str) -> tuple[str, ...]:
    """The settings a notifier keeps out of its repr: they are secrets (keys, passwords)."""
    notifier = NOTIFIERS.get(kind)
    if notifier is None:
        return ()
    return tuple(f.name for f in dataclasses.fields(notifier.settings_class) if not f.repr)


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(MARKER)


def channel_sealer(data: Path) -> Sealer:
    return Sealer(data, PURPOSE)


def seal_settings(sealer: Sealer, kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with every secret string sealed (a value sealed already stays as it is)."""
    sealed = dict(settings)
    for field in secret_fields(kind):
        value = sealed.get(field)
        if isinstance(value, str) and value and not is_sealed(value):
            sealed[field] = MARKER + sealer.seal(value)
    return sealed


def unseal_settings(sealer: Sealer, kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the secrets opened; plain (legacy) values pass as they are.
    ``UnsealError`` for the first secret that does not open."""
    opened = dict(settings)
    for field in secret_fields(kind):
        value = opened.get(field)
        if is_sealed(value):
            plain = sealer.unseal(str(value)[len(MARKER) :])
            if plain is None:
                raise UnsealError(field)
            opened[field] = plain
    return opened


def open_what_opens(sealer: Sealer, kind: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """For editing a channel whose secrets may not open: those that do are opened, those that
    do not are dropped, so the form asks for them again instead of keeping dead tokens."""
    opened = dict(settings)
    for field in secret_fields(kind):
        value = opened.get(field)
        if is_sealed(value):
            plain = sealer.unseal(str(value)[len(MARKER) :])
            if plain is None:
                del opened[field]
            else:
                opened[field] = plain
    return opened
