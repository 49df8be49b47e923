"""The console's navigation bar, filled by each feature when it attaches its pages.

A feature calls ``add_nav_item`` once (at import of its views module) with its endpoint, its
label as a lazy translation (``lazy_gettext("Alerts")``, so the catalog extraction sees the
msgid and the text follows each request's language) and the roles that may see it; base.html
renders the items in ``order``. Keeping the list here means no feature edits base.html.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALL_ROLES = ("admin", "operator", "auditor")


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any  # lazy_gettext("...") from flask_babel: str() gives the request's language
    order: int
    roles: tuple[str, ...] = ALL_ROLES


_ITEMS: dict[str, NavItem] = {}


def add_nav_item(endpoint: str, label: Any, order: int, roles: tuple[str, ...] = ALL_ROLES) -> None:
    """Register (or replace: modules may be imported twice in tests) one navigation entry."""
    _ITEMS[endpoint] = NavItem(endpoint, label, order, roles)


def nav_items(role: str) -> list[NavItem]:
    return sorted((item for item in _ITEMS.values() if role in item.roles), key=lambda i: i.order)
