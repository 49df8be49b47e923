"""The page monitors' REST bodies (``/api/v1/monitors...``, server/monitors/api.py) and the
settings that the API, the console's forms and the command line all validate through
(``server.monitors.store.validate``): each field's bounds are written here once;
docs/architecture.md, "Bodies and validation".

A monitor's settings are one model, ``MonitorSettings``: every field may be left out (a change
names only what changes; ``msgspec.UNSET`` marks what was not given) and ``NewMonitor`` requires
the url. What a schema cannot say (the url's parts, the status list's syntax, a CA file that
exists, selectors and patterns that parse, a window that ends after it starts) is checked by
``store.validate`` after the model.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import UNSET, Meta, UnsetType

from server.monitors.judge import STATUSES_LENGTH
from server.monitors.models import URL_LENGTH
from server.monitors.page import MAX_PATTERNS, MAX_SELECTORS, PATTERN_LENGTH, SELECTOR_LENGTH
from server.rest import Paging
from xunjian.core.contract import UUID_PATTERN, whole
from xunjian.core.schema import Body

MIN_INTERVAL = 5
MAX_INTERVAL = 86_400
WORD_LENGTH = 100
MAX_WORDS = 2000
NOTE_LENGTH = 1000
CA_FILE_LENGTH = 1000
TIME_LENGTH = 40
STATES = ("up", "pending", "down")

Url = Annotated[str, Meta(min_length=1, max_length=URL_LENGTH)]
AgentId = Annotated[str, Meta(pattern=whole(UUID_PATTERN), description="null: the server runs it")]
Time = Annotated[str, Meta(min_length=1, max_length=TIME_LENGTH, description="ISO 8601")]


class MaintenanceWindow(Body):
    start: Time
    end: Time


class MonitorSettings(Body):
    """A change to a monitor: only the fields given are changed."""

    url: Url | UnsetType = UNSET
    name: Annotated[str, Meta(max_length=200)] | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET
    interval_seconds: Annotated[int, Meta(ge=MIN_INTERVAL, le=MAX_INTERVAL)] | UnsetType = UNSET
    timeout_seconds: Annotated[int, Meta(ge=1, le=60)] | UnsetType = UNSET
    accepted_statuses: (
        Annotated[str, Meta(min_length=1, max_length=STATUSES_LENGTH, description="200-299,301")]
        | UnsetType
    ) = UNSET
    keyword: Annotated[str, Meta(max_length=500)] | UnsetType = UNSET
    absent_keyword: Annotated[str, Meta(max_length=500)] | UnsetType = UNSET
    max_ms: Annotated[int, Meta(ge=1, le=60000)] | UnsetType | None = UNSET
    follow_redirects: bool | UnsetType = UNSET
    max_redirects: Annotated[int, Meta(ge=0, le=10)] | UnsetType = UNSET
    ca_file: (
        Annotated[str, Meta(max_length=CA_FILE_LENGTH, description="absolute, on the server")]
        | UnsetType
    ) = UNSET
    cert_warn_days: Annotated[int, Meta(ge=0, le=365)] | UnsetType = UNSET
    fail_threshold: Annotated[int, Meta(ge=1, le=20)] | UnsetType = UNSET
    success_threshold: Annotated[int, Meta(ge=1, le=20)] | UnsetType = UNSET
    reminder_seconds: Annotated[int, Meta(ge=0, le=7 * 86_400)] | UnsetType = UNSET
    tamper_enabled: bool | UnsetType = UNSET
    similarity_percent: Annotated[int, Meta(ge=1, le=100)] | UnsetType = UNSET
    volatile_selectors: (
        Annotated[
            list[Annotated[str, Meta(max_length=SELECTOR_LENGTH)]],
            Meta(max_length=MAX_SELECTORS),
        ]
        | UnsetType
    ) = UNSET
    volatile_patterns: (
        Annotated[
            list[Annotated[str, Meta(max_length=PATTERN_LENGTH)]],
            Meta(max_length=MAX_PATTERNS),
        ]
        | UnsetType
    ) = UNSET
    maintenance: MaintenanceWindow | UnsetType | None = UNSET
    agent_id: (
        Annotated[str, Meta(pattern=whole(UUID_PATTERN), description="null: the server runs it")]
        | UnsetType
        | None
    ) = UNSET


class NewMonitor(MonitorSettings, kw_only=True):
    url: Url


class MonitorsQuery(Paging, kw_only=True):
    state: Literal[STATES] | None = None  # type: ignore[valid-type]


class HistoryQuery(Paging, kw_only=True):
    period: Literal["raw", "hour", "day"] = "raw"
    days: Annotated[int, Meta(ge=1, le=366)] | None = None  # default: 7 by hour, else 366


class BaselineNote(Body):
    note: Annotated[str, Meta(max_length=NOTE_LENGTH)] = ""


class DefacementWords(Body):
    words: Annotated[list[Annotated[str, Meta(max_length=WORD_LENGTH)]], Meta(max_length=MAX_WORDS)]


# -- answers ---------------------------------------------------------------------------------
class RunBy(Body):
    """Who fetches the page: the server, or an enrolled agent."""

    kind: Literal["server", "agent"]
    agent_id: str | UnsetType = UNSET
    hostname: str | UnsetType | None = UNSET
    revoked: bool | UnsetType = UNSET
    last_seen: str | UnsetType | None = UNSET


class Maintenance(Body):
    start: str | None
    end: str | None


class BaselineSummary(Body):
    taken_at: str | None
    accepted_by: str
    title: str
    domains: list[str]


class Monitor(Body):
    id: int
    name: str
    url: str
    enabled: bool
    state: str
    state_since: str | None
    last_checked_at: str | None
    last_result_age_seconds: int | None
    last_result: dict[str, Any] | None
    agent_id: str | None
    run_by: RunBy
    next_due_at: str | None
    open_alerts: list[str]
    in_maintenance: bool
    maintenance: Maintenance | None
    uptime: dict[str, float | None] | None
    baseline: BaselineSummary | None
    page_changed_at: str | None
    interval_seconds: int
    timeout_seconds: int
    accepted_statuses: str
    keyword: str
    absent_keyword: str
    max_ms: int | None
    follow_redirects: bool
    max_redirects: int
    ca_file: str
    cert_warn_days: int
    fail_threshold: int
    success_threshold: int
    reminder_seconds: int
    tamper_enabled: bool
    similarity_percent: int
    volatile_selectors: list[str]
    volatile_patterns: list[str]
    created_at: str | None
    created_by: str


class MonitorPage(Body):
    monitors: list[Monitor]
    total: int
    limit: int
    offset: int


class ProbeResult(Body):
    at: str | None
    ok: bool
    status_code: int | None
    ms: int | None
    problems: str


class Aggregate(Body):
    start: str | None
    probes: int
    ups: int
    uptime: float | None
    ms_avg: int | None
    ms_max: int | None


class MonitorHistory(Body):
    """``period=raw``: results (paged); ``hour`` or ``day``: aggregates."""

    period: Literal["raw", "hour", "day"]
    results: list[ProbeResult] | UnsetType = UNSET
    total: int | UnsetType = UNSET
    limit: int | UnsetType = UNSET
    offset: int | UnsetType = UNSET
    aggregates: list[Aggregate] | UnsetType = UNSET


class Proposal(Body):
    id: int
    monitor_id: int
    status: str
    proposed_by: str
    proposed_at: str | None
    note: str
    title: str
    domains: list[str]
    diff: str
    decided_by: str | None
    decided_at: str | None


class StoredBaseline(BaselineSummary, kw_only=True):
    text_hash: str
    text: str


class Candidate(Body):
    seen_at: str | None
    title: str | None
    domains: list[str] | None
    text_hash: str


class MonitorBaseline(Body):
    baseline: StoredBaseline | None
    candidate: Candidate | None
    proposals: list[Proposal]
