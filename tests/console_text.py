"""The console's texts as a person sees them, for tests: an English msgid in the language
asked for, read from the same gettext catalogs the server uses (server/console/i18n.py)."""

from __future__ import annotations

from functools import cache

from babel.messages.catalog import Catalog

from server.console.i18n import parts, read_catalog


@cache
def _chinese() -> dict[str, str]:
    merged: dict[str, str] = {}
    for part in parts():
        if not part.po.exists():
            continue  # a package whose catalog is not written yet (the i18n check says so)
        catalog: Catalog = read_catalog(part.po)
        for message in catalog:
            if isinstance(message.id, str) and message.id and message.string:
                merged[message.id] = str(message.string)
    return merged


def text(msgid: str, language: str = "zh") -> str:
    """``text("Hosts")`` -> "主机"; ``text("Hosts", "en")`` -> "Hosts". A msgid without a
    Chinese translation fails the test (the catalog check would fail too)."""
    if language == "en":
        return msgid
    return _chinese()[msgid]
