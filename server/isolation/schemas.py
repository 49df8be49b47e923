"""The isolation REST bodies (``/api/v1/hosts/<id>/isolation``); docs/incidents.md."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from xunjian.core.contract import ISOLATION_REASON_MAX
from xunjian.core.schema import Body


class IsolationRequest(Body):
    action: Literal["isolate", "release"]
    reason: Annotated[str, Meta(min_length=1, max_length=ISOLATION_REASON_MAX)]


class IsolationQueued(Body):
    command_id: str
    action: Literal["isolate", "release"]
    generation: int
    reason: str


class IsolationState(Body):
    """A host's isolation: ``status`` reads the request against the agent's last report
    (isolating, isolated, releasing, released, released_locally, failed; empty: never)."""

    status: str
    wanted: str
    generation: int
    reason: str
    requested_by: str
    requested_at: str | None
    reported_state: str | None
    reported_at: str | None
    changed_at: str | None
    backend: str
    rules: str
    error: str
    released_by: str
    release_reason: str
