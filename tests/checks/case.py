"""One fact-table case of a check: the facts, the parameters, the (status, resource) expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checks.facts import FactName


@dataclass(frozen=True)
class Case:
    name: str
    facts: dict[FactName, Any]
    expected: set[tuple[str, str]]  # (status, resource)
    params: dict[str, Any] = field(default_factory=dict)
