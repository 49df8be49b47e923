"""The console's navigation bar, filled by each feature when it installs its pages.

A feature's views module declares its entries (``NAV``: endpoint, label as a lazy translation
(``lazy_gettext("Alerts")``, so the catalog extraction sees the msgid and the text follows each
request's language), order and the roles that may see them); its ``install(app)`` adds them to
the app with ``add_nav_items``; base.html renders them in ``order``. Keeping the list per app
means no feature edits base.html and importing a views module changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

ALL_ROLES = ("admin", "operator", "auditor")
EXTENSION_KEY = "xunjian.nav"  # app.extensions: endpoint -> NavItem


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # lazy_gettext("...") from flask_babel: str() gives the request's language
    order: int
    roles: tuple[str, ...] = ALL_ROLES


def add_nav_items(app: Flask, items: Iterable[NavItem]) -> None:
    """Add (or replace, by endpoint) a feature's entries in ``app``'s navigation bar."""
    registry: dict[str, NavItem] = app.extensions.setdefault(EXTENSION_KEY, {})
    for item in items:
        registry[item.endpoint] = item


def nav_items(role: str) -> list[NavItem]:
    """The current app's entries ``role`` may see, in order."""
    registry: dict[str, NavItem] = current_app.extensions.get(EXTENSION_KEY, {})
    return sorted((item for item in registry.values() if role in item.roles), key=lambda i: i.order)
