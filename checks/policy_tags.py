"""The stable rule ids of /work/shared/POLICY.md that check metadata may cite."""

from __future__ import annotations

POLICY_TAGS: frozenset[str] = frozenset(
    [f"P{n}" for n in range(1, 3)]
    + [f"E{n}" for n in range(1, 19)]
    + [f"I{n}" for n in range(1, 3)]
    + [f"A{n}" for n in range(1, 5)]
)
