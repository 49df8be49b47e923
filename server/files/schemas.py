"""The file watch's REST bodies (``/api/v1/file-events``, ``/api/v1/groups/<name>/watch``,
server/files/api.py), and the watch settings that the API, the console and the command line all
validate through (server/files/policy.py); docs/architecture.md, "Bodies and validation"."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta

from xunjian.core.contract.bodies import Watch, WatchFolder
from xunjian.core.schema import Body

__all__ = ["WatchFolder", "WatchSettings"]

# The watch section itself is the contract's (the agents receive it in their policy).
WatchSettings = Watch
MAX_LIMIT = 1000
MAX_EVENT_ID = 10**18 - 1


class WatchSaved(Watch, kw_only=True):
    policy_version: int


class FileEventsQuery(Body):
    host: Annotated[str, Meta(min_length=1, max_length=36)] | None = None
    findings: Literal["only"] | None = None
    limit: Annotated[int, Meta(ge=1, le=MAX_LIMIT)] = 100
    before: Annotated[int, Meta(ge=0, le=MAX_EVENT_ID)] | None = None


class EventHost(Body):
    id: str
    hostname: str | None


class StoredFileEvent(Body):
    id: int
    host: EventHost
    action: str
    path: str
    from_path: str | None
    folder: str
    folder_kind: str
    sha256: str | None
    size: int | None
    owner: str | None
    mtime: str | None
    observed_at: str | None
    received_at: str | None
    count: int | None
    summarised_action: str | None
    findings: list[dict[str, Any]]


class FileEventPage(Body):
    events: list[StoredFileEvent]
    next_before: int | None
