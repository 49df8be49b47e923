"""The bodies agent and server send each other (docs/architecture.md, "The wire"), as msgspec
Structs built from the contract's values (``xunjian.core.contract``): the server decodes every
request with them (``xunjian.core.schema.decode_json``: unknown keys refused, every string, list
and number bounded, a 400 that names the place) and the OpenAPI document is generated from them.

What msgspec cannot say in a type (the encoded size of evidence and inventory, a year range,
"a fetch without a status must say why") is checked in ``__post_init__``, which msgspec runs
while decoding and reports with the place (:func:`~xunjian.core.schema.field_error`).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

from xunjian.core.contract import (
    CHECK_ID_MAX,
    CHECK_ID_PATTERN,
    COMMAND_TYPE_PATTERN,
    EVIDENCE_ARCHIVE_MAX_BYTES,
    EVIDENCE_CHUNK_MAX_BYTES,
    EVIDENCE_MAX_BYTES,
    EVIDENCE_REASON_MAX,
    FILE_EVENT_ERROR_MAX,
    FILE_OWNER_MAX,
    FILE_PATH_MAX,
    FINDING_RULE_MAX,
    GAP_REASON_MAX,
    GROUP_NAME_MAX,
    HTTP_URL_PATTERN,
    INVENTORY_MAX_BYTES,
    ISOLATION_ERROR_MAX,
    ISOLATION_GENERATION_MAX,
    ISOLATION_REASON_MAX,
    ISOLATION_RULES_MAX,
    JSON_MAX_DEPTH,
    MAX_ACKED_COMMANDS,
    MAX_AGENT_MONITORS,
    MAX_COMMANDS,
    MAX_FILE_EVENTS,
    MAX_FINDINGS,
    MAX_GAPS,
    MAX_POLICY_CHECKS,
    MAX_RESULTS,
    MAX_RULES,
    MAX_SENSITIVE_WORDS,
    MAX_SPOOL_DEPTH,
    MAX_WATCH_FOLDERS,
    MESSAGE_ID_MAX,
    MESSAGE_ID_PATTERN,
    MESSAGE_MAX,
    MESSAGE_PARAM_MAX,
    MESSAGE_PARAM_NAME_PATTERN,
    MESSAGE_PARAMS_MAX,
    MONITOR_ID_MAX,
    MONITOR_INTERVAL_BOUNDS,
    MONITOR_REDIRECT_BOUNDS,
    MONITOR_TIMEOUT_BOUNDS,
    OS_BUILD_MAX,
    OS_NAME_MAX,
    OS_VERSION_MAX,
    OUTCOME_BODY_TEXT_MAX,
    OUTCOME_CONTENT_TYPE_MAX,
    OUTCOME_ERROR_MAX,
    OUTCOME_MAX_DROPPED,
    OUTCOME_MAX_MS,
    PLATFORM_NAME_MAX,
    PLATFORM_PATTERN,
    REPORT_KIND_MAX,
    REPORT_KIND_PATTERN,
    RESOURCE_MAX,
    RULE_TAG_MAX,
    RULE_TAG_PATTERN,
    SENSITIVE_WORD_MAX,
    SHA256_PATTERN,
    URL_LENGTH,
    UUID_PATTERN,
    YEARS,
    FileAction,
    FindingKind,
    IsolationState,
    Severity,
    Status,
    WatchKind,
    whole,
)
from xunjian.core.schema import MAX_SAFE_INTEGER, Body, field_error

# -- bounded types -------------------------------------------------------------------------------
Count = Annotated[int, Meta(ge=0, le=MAX_SAFE_INTEGER)]
Uuid = Annotated[str, Meta(pattern=whole(UUID_PATTERN), max_length=36)]
CheckId = Annotated[str, Meta(pattern=whole(CHECK_ID_PATTERN), max_length=CHECK_ID_MAX)]
RuleTag = Annotated[
    str, Meta(pattern=whole(RULE_TAG_PATTERN), min_length=1, max_length=RULE_TAG_MAX)
]
MessageId = Annotated[str, Meta(pattern=whole(MESSAGE_ID_PATTERN), max_length=MESSAGE_ID_MAX)]
MessageParams = Annotated[
    dict[
        Annotated[str, Meta(pattern=whole(MESSAGE_PARAM_NAME_PATTERN))],
        Annotated[str, Meta(max_length=MESSAGE_PARAM_MAX)],
    ],
    Meta(max_length=MESSAGE_PARAMS_MAX),
]
# A time with a zone (``2026-11-23T10:00:00Z``); the server keeps it as naive UTC (utc_naive).
Moment = Annotated[datetime.datetime, Meta(tz=True)]


def _check_year(name: str, moment: datetime.datetime | None) -> None:
    if moment is not None and not YEARS[0] <= moment.year <= YEARS[1]:
        raise field_error(name, f"year out of range {YEARS[0]}..{YEARS[1]}")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep, walked a level at a time: a recursive
    walk cost 380 µs on a 200-package inventory, this one a tenth of it."""
    level = [value]
    for _ in range(limit):
        below: list[Any] = []
        for container in level:
            items = container.values() if type(container) is dict else container
            below += [item for item in items if type(item) is dict or type(item) is list]
        if not below:
            return False
        level = below
    return True


def encode_bounded(name: str, value: dict[str, Any], max_bytes: int) -> str:
    """``value``'s compact UTF-8 encoding, the one the store keeps; ValueError (a 400 naming
    ``name``) when it is over ``max_bytes`` or nested deeper than JSON_MAX_DEPTH."""
    encoded = msgspec.json.encode(value)
    if len(encoded) > max_bytes:
        raise field_error(name, f"at most {max_bytes} bytes encoded")
    # Nesting cannot exceed the number of brackets; walk the value only when it might.
    brackets = encoded.count(b"{") + encoded.count(b"[")
    if brackets > JSON_MAX_DEPTH and _deeper_than(value, JSON_MAX_DEPTH):
        raise field_error(name, f"nested deeper than {JSON_MAX_DEPTH}")
    return encoded.decode()


# -- POST /api/v1/agent/enroll -------------------------------------------------------------------
class EnrollRequest(Body):
    token: Annotated[str, Meta(min_length=1, max_length=200)]
    public_key: Annotated[str, Meta(min_length=1, max_length=64)]
    hostname: Annotated[str, Meta(min_length=1, max_length=255)]
    platform: Annotated[str, Meta(min_length=1, max_length=32, pattern=whole(PLATFORM_PATTERN))]
    os: Annotated[str, Meta(max_length=255)] = ""
    agent_version: Annotated[str, Meta(max_length=32)] = ""


# The server's command key (raw Ed25519 public key, base64): the agent pins it and runs an
# isolation command only when that key signed it (xunjian.core.wire.sign_command).
CommandKey = Annotated[str, Meta(min_length=44, max_length=44)]
Generation = Annotated[int, Meta(ge=1, le=ISOLATION_GENERATION_MAX)]


class EnrollAnswer(Body):
    agent_id: Uuid
    group: str
    command_key: CommandKey | None = None


# -- POST /api/v1/agent/reports ------------------------------------------------------------------
# dict=True lets __post_init__ keep a value that is not a field (and so not in the document).
class Result(Body, dict=True):
    """One check's judgement (docs/architecture.md, "Check results")."""

    check_id: CheckId
    status: Status
    resource: Annotated[str, Meta(min_length=1, max_length=RESOURCE_MAX)]
    message: Annotated[str, Meta(max_length=MESSAGE_MAX)]
    severity: Severity
    evidence: Annotated[
        dict[str, Any],
        Meta(
            description=f"any JSON object of at most {EVIDENCE_MAX_BYTES} bytes encoded "
            f"(compact UTF-8), nested at most {JSON_MAX_DEPTH} deep"
        ),
    ] = msgspec.field(default_factory=dict)
    rules: Annotated[list[RuleTag], Meta(max_length=MAX_RULES)] = msgspec.field(
        default_factory=list
    )
    # The sentence as an id and its parameters (text), for the server to render in the
    # reader's language; ``message`` is its English.
    message_id: MessageId | None = None
    params: MessageParams = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        # The evidence's compact encoding, made once while its size is checked; intake writes it
        # to both result tables as it is (server/intake/report.py).
        self.__dict__["evidence_json"] = encode_bounded(
            "evidence", self.evidence, EVIDENCE_MAX_BYTES
        )


class Gap(Body):
    """Reports the agent's spool dropped (seq from..to), and why."""

    from_seq: Count
    to_seq: Count
    reason: Annotated[str, Meta(max_length=GAP_REASON_MAX)]


class Finding(Body):
    kind: FindingKind
    rule: Annotated[str, Meta(min_length=1, max_length=FINDING_RULE_MAX)]


_FilePath = Annotated[str, Meta(min_length=1, max_length=FILE_PATH_MAX)]


class FileEvent(Body, kw_only=True):
    """One change the file watcher saw (agent/watch/watcher.py; docs/file-watcher.md)."""

    action: FileAction
    path: _FilePath
    from_path: Annotated[str, Meta(max_length=FILE_PATH_MAX)] | None = None
    folder: _FilePath
    folder_kind: WatchKind
    sha256: Annotated[str, Meta(pattern=whole(SHA256_PATTERN), max_length=64)] | None = None
    size: Count | None = None
    owner: Annotated[str, Meta(max_length=FILE_OWNER_MAX)] | None = None
    mtime: Moment | None = None
    observed_at: Moment
    summarised_action: FileAction | None = None
    count: Count | None = None
    findings: Annotated[list[Finding], Meta(max_length=MAX_FINDINGS)] = msgspec.field(
        default_factory=list
    )
    # Why the watcher cannot work (watch_failed only).
    error: Annotated[str, Meta(max_length=FILE_EVENT_ERROR_MAX)] | None = None

    def __post_init__(self) -> None:
        _check_year("mtime", self.mtime)
        _check_year("observed_at", self.observed_at)


class HostPlatform(Body):
    """The scanned host's system, as the scan saw it: with ``scan_root`` an agent on Linux may
    scan a mounted Windows volume, so this, not the enrollment's ``platform``, says what the
    host is. ``name`` is the check registry's platform (``windows``, ``linux``)."""

    name: Annotated[
        str, Meta(min_length=1, max_length=PLATFORM_NAME_MAX, pattern=whole(PLATFORM_PATTERN))
    ]
    os: Annotated[str, Meta(max_length=OS_NAME_MAX)] = ""
    version: Annotated[str, Meta(max_length=OS_VERSION_MAX)] = ""
    build: Annotated[str, Meta(max_length=OS_BUILD_MAX)] = ""


class Report(Body, dict=True, kw_only=True):
    """One report: a scan's results and inventory, or the file watcher's events."""

    agent_id: Uuid
    epoch: Count
    seq: Count
    kind: Annotated[
        str, Meta(min_length=1, max_length=REPORT_KIND_MAX, pattern=whole(REPORT_KIND_PATTERN))
    ]
    created_at: Moment
    policy_version: Count | None = None
    results: Annotated[list[Result], Meta(max_length=MAX_RESULTS)]
    inventory: (
        Annotated[
            dict[str, Any],
            Meta(
                description=f"any JSON object of at most {INVENTORY_MAX_BYTES} bytes encoded, "
                f"nested at most {JSON_MAX_DEPTH} deep"
            ),
        ]
        | None
    ) = None
    platform: HostPlatform | None = None
    gaps: Annotated[list[Gap], Meta(max_length=MAX_GAPS)] = msgspec.field(default_factory=list)
    file_events: Annotated[list[FileEvent], Meta(max_length=MAX_FILE_EVENTS)] = msgspec.field(
        default_factory=list
    )

    def __post_init__(self) -> None:
        _check_year("created_at", self.created_at)
        # Like Result.evidence_json: encoded once while its size is checked (None without one).
        self.__dict__["inventory_json"] = (
            None
            if self.inventory is None
            else encode_bounded("inventory", self.inventory, INVENTORY_MAX_BYTES)
        )


class ReportAnswer(Body):
    """Either tells the agent it may delete the report from its spool."""

    stored: bool
    duplicate: bool = False


# -- GET /api/v1/agent/policy --------------------------------------------------------------------
class CheckSetting(Body):
    enabled: bool
    params: dict[str, Any]


class Schedules(Body):
    scan_interval_seconds: Annotated[float, Meta(ge=0)]
    heartbeat_interval_seconds: Annotated[float, Meta(ge=0)]


class Approved(Body):
    users: list[str]
    software: list[str]


class WatchFolder(Body):
    # No NUL: a path holds none, and PostgreSQL text cannot store one.
    path: Annotated[str, Meta(min_length=1, max_length=FILE_PATH_MAX, pattern=r"^[^\x00]+$")]
    kind: WatchKind


class Watch(Body):
    """A group's ``watch`` section of the policy: folders and sensitive words (non-blank). The
    server validates it once where an admin sets it (API, console, CLI: server/files/policy.py)
    and hands it to the agents in their policy."""

    folders: Annotated[list[WatchFolder], Meta(max_length=MAX_WATCH_FOLDERS)] = msgspec.field(
        default_factory=list
    )
    sensitive_words: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=SENSITIVE_WORD_MAX, pattern=r"\S")]],
        Meta(max_length=MAX_SENSITIVE_WORDS),
    ] = msgspec.field(default_factory=list)


class PolicyAnswer(Body):
    """What the agent runs: its group's checks and their parameters, schedules, approved lists
    and the file watcher's folders. The agent ignores keys it does not know (a newer server)."""

    version: Count
    group: Annotated[str, Meta(max_length=GROUP_NAME_MAX)]
    checks: Annotated[dict[CheckId, CheckSetting], Meta(max_length=MAX_POLICY_CHECKS)]
    schedules: Schedules
    approved: Approved
    watch: Watch


# -- POST /api/v1/agent/heartbeat ----------------------------------------------------------------
class IsolationReport(Body):
    """Where the host stands on isolation (docs/incidents.md): sent with every heartbeat while
    the agent keeps an isolation record, so the server learns it again after any loss."""

    state: IsolationState
    generation: Annotated[int, Meta(ge=0, le=ISOLATION_GENERATION_MAX)]
    changed_at: Moment
    command_id: Uuid | None = None
    backend: Annotated[str, Meta(max_length=32)] = ""
    rules: Annotated[str, Meta(max_length=ISOLATION_RULES_MAX)] = ""
    error: Annotated[str, Meta(max_length=ISOLATION_ERROR_MAX)] = ""
    # The break-glass release: the local user who ran it and why.
    released_by: Annotated[str, Meta(max_length=64)] = ""
    reason: Annotated[str, Meta(max_length=ISOLATION_REASON_MAX)] = ""

    def __post_init__(self) -> None:
        _check_year("changed_at", self.changed_at)


class Heartbeat(Body):
    spool_depth: Annotated[int, Meta(ge=0, le=MAX_SPOOL_DEPTH)] | None = None
    last_seq: Count | None = None
    epoch: Count | None = None
    policy_version: Count | None = None
    acked_commands: Annotated[list[Uuid], Meta(max_length=MAX_ACKED_COMMANDS)] = msgspec.field(
        default_factory=list
    )
    isolation: IsolationReport | None = None


class Command(Body):
    id: Uuid
    type: Annotated[str, Meta(pattern=whole(COMMAND_TYPE_PATTERN), max_length=32)]
    # Isolation commands only: the host's generation and the server's signature over
    # (agent, id, type, generation) with the command key.
    generation: Generation | None = None
    signature: Annotated[str, Meta(max_length=100)] | None = None


class HeartbeatAnswer(Body):
    """The group's policy version (the agent fetches the policy when it changed) and the
    commands not yet acknowledged; a command is delivered until a later heartbeat acks it."""

    policy_version: Count | None
    commands: Annotated[list[Command], Meta(max_length=MAX_COMMANDS)]
    command_key: CommandKey | None = None


# -- GET /api/v1/agent/monitors, POST /api/v1/agent/monitor-outcomes -----------------------------
class AssignedMonitor(Body):
    """How to fetch one page; the server keeps every judging setting to itself."""

    id: Annotated[int, Meta(ge=1, le=MONITOR_ID_MAX)]
    url: Annotated[str, Meta(min_length=1, max_length=URL_LENGTH)]
    interval_seconds: Annotated[
        int, Meta(ge=MONITOR_INTERVAL_BOUNDS[0], le=MONITOR_INTERVAL_BOUNDS[1])
    ]
    timeout_seconds: Annotated[
        int, Meta(ge=MONITOR_TIMEOUT_BOUNDS[0], le=MONITOR_TIMEOUT_BOUNDS[1])
    ]
    follow_redirects: bool
    max_redirects: Annotated[
        int, Meta(ge=MONITOR_REDIRECT_BOUNDS[0], le=MONITOR_REDIRECT_BOUNDS[1])
    ]


class MonitorList(Body):
    monitors: Annotated[list[AssignedMonitor], Meta(max_length=MAX_AGENT_MONITORS)]
    max_body_bytes: Annotated[int, Meta(ge=0)]


_Url = Annotated[str, Meta(min_length=1, max_length=URL_LENGTH, pattern=whole(HTTP_URL_PATTERN))]


class OutcomeCert(Body):
    """The page's certificate: ``not_after`` in any year (a self-signed one may say 9999)."""

    not_after: Moment | None
    verified: bool
    problem: Annotated[str, Meta(max_length=OUTCOME_ERROR_MAX)] = ""


class MonitorOutcome(Body, kw_only=True):
    """One fetch of a monitor the agent runs. ``body`` is the page's bytes in base64; a page
    over the probe's cap is refused with 413 (server/monitors/agent_intake.py), not 400, so its
    bound is documented here but checked there."""

    monitor_id: Annotated[int, Meta(ge=1, le=MONITOR_ID_MAX)]
    checked_at: Moment
    url: _Url
    status: Annotated[int, Meta(ge=100, le=999)] | None
    ms: Annotated[int, Meta(ge=0, le=OUTCOME_MAX_MS)]
    error: Annotated[str, Meta(max_length=OUTCOME_ERROR_MAX)] = ""
    body: Annotated[bytes, Meta(extra_json_schema={"maxLength": OUTCOME_BODY_TEXT_MAX})] = b""
    truncated: bool = False
    content_type: Annotated[str, Meta(max_length=OUTCOME_CONTENT_TYPE_MAX)] = ""
    redirects: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=URL_LENGTH)]],
        Meta(max_length=MONITOR_REDIRECT_BOUNDS[1]),
    ] = msgspec.field(default_factory=list)
    cert: OutcomeCert | None = None
    dropped: Annotated[int, Meta(ge=0, le=OUTCOME_MAX_DROPPED)] = 0

    def __post_init__(self) -> None:
        _check_year("checked_at", self.checked_at)
        if self.status is None and not self.error:
            raise field_error("error", "a fetch without a status must say why")


class OutcomeAnswer(Body):
    recorded: bool
    reason: Literal["stale", "paused"] | None = None


# -- POST /api/v1/agent/evidence, PUT /api/v1/agent/evidence/<id>?offset=N -----------------------
class EvidenceStart(Body):
    """Start (or resume) the upload of an evidence archive (xunjian/core/evidence.py). The
    chunks follow as raw bytes (``application/octet-stream``), each at the offset the answer
    says the server stands at."""

    id: Uuid
    size: Annotated[int, Meta(ge=1, le=EVIDENCE_ARCHIVE_MAX_BYTES)]
    sha256: Annotated[str, Meta(pattern=whole(SHA256_PATTERN), max_length=64)]
    command_id: Uuid | None = None
    reason: Annotated[str, Meta(max_length=EVIDENCE_REASON_MAX)] = ""


class EvidenceChunkQuery(Body):
    offset: Annotated[int, Meta(ge=0, le=EVIDENCE_ARCHIVE_MAX_BYTES)]


class EvidenceProgress(Body):
    """How many bytes of the archive the server holds; ``complete`` once all arrived and
    verified with the agent's key (stored write-once). ``chunk_bytes``: the largest chunk the
    server takes."""

    id: Uuid
    received: Annotated[int, Meta(ge=0, le=EVIDENCE_ARCHIVE_MAX_BYTES)]
    complete: bool
    chunk_bytes: Annotated[int, Meta(ge=1, le=EVIDENCE_CHUNK_MAX_BYTES)]
