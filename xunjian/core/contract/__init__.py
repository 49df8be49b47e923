"""The agent/server contract, defined once (docs/architecture.md, "The wire"): statuses and
severities, id patterns, size limits, every agent path, report kinds and command types here;
every body either side sends, as typed msgspec Structs built from these values, in
``xunjian.core.contract.bodies``.

The split is for the agent's memory: this module is standard library only, so the idle agent
service, which needs the values but decodes nothing, does not load msgspec (about 3.8 MB
resident with the bodies; docs/PERFORMANCE.md, "The agent": the target is 40 MB). The server
decodes every request with the bodies, and the OpenAPI document is generated from them
(server/apidoc.py), so the rules, the document and the agent's own fitting (agent/report.py)
read the same numbers. ``xunjian.core.probe`` takes its page bounds from here, not the reverse.
"""

from __future__ import annotations

import datetime
from typing import Literal, get_args

# -- results -----------------------------------------------------------------------------------
# checks/model.py spells these too (the check library stays stdlib-only and the idle agent must
# not load it); tests/core/test_contract.py holds the two equal.
Status = Literal["pass", "fail", "error", "not_applicable", "no_privilege"]
Severity = Literal["info", "low", "medium", "high", "critical"]  # least to most severe
STATUSES: tuple[str, ...] = get_args(Status)
SEVERITIES: tuple[str, ...] = get_args(Severity)


def whole(pattern: str) -> str:
    """A pattern that must match the whole string. msgspec searches (JSON Schema's rule), and
    Python's ``$`` also matches before a final newline; ``(?!\\n)`` refuses that newline and is
    valid in both Python and ECMA regular expressions (the document's dialect)."""
    return f"^(?:{pattern})$(?!\\n)"


UUID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
CHECK_ID_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,127}"
RULE_TAG_PATTERN = r"[A-Za-z0-9_.:-]+"  # POLICY.md tags such as E4
# A result's sentence as an id and its parameters (checks/messages.py holds the sentences in
# Chinese and English): the server renders it in the reader's language; ``message`` keeps the
# agent's English for logs, ``xunjian scan`` and a server that does not know the id.
MESSAGE_ID_PATTERN = r"[a-z0-9][a-z0-9_.-]{0,127}"
MESSAGE_PARAM_NAME_PATTERN = r"[a-z_][a-z0-9_]{0,31}"
REPORT_KIND_PATTERN = r"[a-z][a-z0-9_]*"
PLATFORM_PATTERN = r"[a-z0-9_-]+"
COMMAND_TYPE_PATTERN = r"[a-z][a-z0-9_]{0,31}"
SHA256_PATTERN = r"[0-9a-f]{64}"
# The final URL after redirects: what the probe followed, so http(s) (a redirect's Location is
# not held to the rules of a monitor's own URL).
HTTP_URL_PATTERN = r"[Hh][Tt][Tt][Pp][Ss]?://.*"

MAX_RESULTS = 2000
CHECK_ID_MAX = 128
RESOURCE_MAX = 200
MESSAGE_MAX = 1000
MESSAGE_ID_MAX = 128
MESSAGE_PARAMS_MAX = 16  # parameters of one message
MESSAGE_PARAM_MAX = 300  # characters of one parameter's text
EVIDENCE_MAX_BYTES = 16 * 1024  # encoded: compact UTF-8
INVENTORY_MAX_BYTES = 1024 * 1024
JSON_MAX_DEPTH = 16  # evidence and inventory
MAX_RULES = 32
RULE_TAG_MAX = 16
MAX_GAPS = 100
GAP_REASON_MAX = 200
GAP_SPOOL_FULL = "spool full"  # the agent dropped reports: opens a spool_overflow alert
REPORT_KIND_MAX = 32
# What a scan report says of the scanned host's system (bodies.HostPlatform): the platform's
# name (PLATFORM_PATTERN), the OS's name ("Windows 11 Pro", "Debian GNU/Linux 12"), its version
# ("24H2", "12") and build ("26100.7171", a kernel release on Linux).
PLATFORM_NAME_MAX = 32
OS_NAME_MAX = 255
OS_VERSION_MAX = 64
OS_BUILD_MAX = 64
# Time stamps an agent sends: any zone, within these years (a clock at 1970 is a broken clock).
YEARS = (2000, 2200)
# The server's default request body limit (ServerConfig.max_body_bytes; 413 above it).
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024

# -- report kinds, commands ----------------------------------------------------------------------
KIND_SCAN = "scan"  # carries every check's current result: latest results it omits retire
KIND_INVENTORY = "inventory"
KIND_FILE_EVENTS = "file_events"
FULL_SCAN_KINDS = frozenset({KIND_SCAN})
COMMAND_SCAN_NOW = "scan_now"
# Take an evidence snapshot now (docs/incidents.md, "Evidence"); allowed only where the host's
# own agent.json lists it in allowed_commands.
COMMAND_EVIDENCE = "evidence"
# What POST /api/v1/hosts/<id>/commands queues; isolation has its own route (it needs a reason).
COMMAND_TYPES = (COMMAND_SCAN_NOW, COMMAND_EVIDENCE)
# Host isolation (POLICY.md I1; docs/incidents.md): commands signed by the server's command key
# (xunjian.core.wire.sign_command) with a per-host generation, which the agent keeps so that a
# replayed or older command changes nothing.
COMMAND_ISOLATE = "isolate"
COMMAND_RELEASE = "release"
ISOLATION_COMMANDS = (COMMAND_ISOLATE, COMMAND_RELEASE)
# What the agent reports in each heartbeat while it has an isolation record:
# isolated (rules set and verified), released (by the server's command), released_locally
# (the root break-glass `xunjian agent release-isolation`), failed (rules not set, or taken
# back because the server did not answer through them; ``error`` says why).
IsolationState = Literal["isolated", "released", "released_locally", "failed"]
ISOLATION_STATES: tuple[str, ...] = get_args(IsolationState)
ISOLATION_REASON_MAX = 500
ISOLATION_RULES_MAX = 16 * 1024
ISOLATION_ERROR_MAX = 1000
ISOLATION_GENERATION_MAX = 2**31 - 1
MAX_COMMANDS = 100
MAX_ACKED_COMMANDS = 100
MAX_SPOOL_DEPTH = 10**9

# -- paths of the agent API, under the server's base URL ---------------------------------------
AGENT_PREFIX = "/api/v1/agent"
PATH_CA = f"{AGENT_PREFIX}/ca"
PATH_ENROLL = f"{AGENT_PREFIX}/enroll"
PATH_REPORTS = f"{AGENT_PREFIX}/reports"
PATH_POLICY = f"{AGENT_PREFIX}/policy"
PATH_HEARTBEAT = f"{AGENT_PREFIX}/heartbeat"
PATH_MONITORS = f"{AGENT_PREFIX}/monitors"
PATH_MONITOR_OUTCOMES = f"{AGENT_PREFIX}/monitor-outcomes"
# POST: start (or resume) the upload of an evidence archive; PUT PATH_EVIDENCE/<id>?offset=N:
# one chunk of it (evidence_chunk_path).
PATH_EVIDENCE = f"{AGENT_PREFIX}/evidence"

# -- policy --------------------------------------------------------------------------------------
MAX_POLICY_CHECKS = 2000
GROUP_NAME_MAX = 200
# What a server may ask for, whatever its policy says (the agent clamps): a scan at most every
# minute and at least monthly; a heartbeat between every 10 s and daily.
SCAN_INTERVAL_BOUNDS = (60.0, 31 * 86400.0)
HEARTBEAT_INTERVAL_BOUNDS = (10.0, 86400.0)

# -- the file watcher (agent/watch, server/files; docs/file-watcher.md) -------------------------
WatchKind = Literal["web_root", "upload"]
# watch_failed / watch_recovered: the watcher itself cannot work (or works again); the server
# opens (resolves) a watch_failed alert, so a blind watcher is never mistaken for a quiet one.
FileAction = Literal[
    "created",
    "modified",
    "deleted",
    "moved",
    "summary",
    "folder_missing",
    "folder_back",
    "watch_failed",
    "watch_recovered",
]
FindingKind = Literal["webshell", "sensitive_word"]
WATCH_KINDS: tuple[str, ...] = get_args(WatchKind)
FILE_EVENT_ACTIONS: tuple[str, ...] = get_args(FileAction)
FINDING_KINDS: tuple[str, ...] = get_args(FindingKind)
MAX_FILE_EVENTS = 1000
MAX_FINDINGS = 20
FINDING_RULE_MAX = 100
FILE_PATH_MAX = 1024
FILE_OWNER_MAX = 64
FILE_EVENT_ERROR_MAX = 500
MAX_WATCH_FOLDERS = 50
MAX_SENSITIVE_WORDS = 500
SENSITIVE_WORD_MAX = 100

# -- page monitors an agent runs (docs/monitors.md, "Internal-only sites") ----------------------
PAGE_MAX_BYTES = 1024 * 1024  # what the page fetch (xunjian/core/probe.py) reads of a page
URL_LENGTH = 2000
MAX_AGENT_MONITORS = 100
MONITOR_ID_MAX = 2**31 - 1
MONITOR_INTERVAL_BOUNDS = (5, 86_400)
MONITOR_TIMEOUT_BOUNDS = (1, 60)
MONITOR_REDIRECT_BOUNDS = (0, 10)
OUTCOME_ERROR_MAX = 500
OUTCOME_CONTENT_TYPE_MAX = 500
OUTCOME_MAX_MS = 3_600_000
OUTCOME_MAX_DROPPED = 1_000_000
# The page travels base64-encoded; this many characters carry at most PAGE_MAX_BYTES.
OUTCOME_BODY_TEXT_MAX = 4 * ((PAGE_MAX_BYTES + 2) // 3)


# -- evidence snapshots (xunjian/core/evidence.py, agent/evidence, server/evidence) -------------
# An archive travels in chunks of at most EVIDENCE_CHUNK_MAX_BYTES (raw bytes, under the
# server's default body limit) and is at most EVIDENCE_ARCHIVE_MAX_BYTES whole; it holds at
# most EVIDENCE_MAX_PARTS parts named by EVIDENCE_PART_PATTERN. What one part may hold is
# bounded by the agent (EVIDENCE_PART_MAX_BYTES), so a huge /tmp cannot crowd out the rest.
EVIDENCE_CHUNK_MAX_BYTES = 1024 * 1024
EVIDENCE_ARCHIVE_MAX_BYTES = 256 * 1024 * 1024
EVIDENCE_PART_MAX_BYTES = 32 * 1024 * 1024
EVIDENCE_MAX_PARTS = 64
EVIDENCE_PART_PATTERN = r"[a-z][a-z0-9_-]{0,47}\.(json|txt)"
EVIDENCE_REASON_MAX = 500
# Uploads an agent may have open (started, not complete) at once on the server.
EVIDENCE_MAX_OPEN_UPLOADS = 8
EVIDENCE_MEDIA_TYPE = "application/x-tar"
EVIDENCE_CHUNK_MEDIA_TYPE = "application/octet-stream"


def evidence_chunk_path(snapshot_id: str, offset: int) -> str:
    """Where one chunk of snapshot ``snapshot_id`` starting at byte ``offset`` is PUT."""
    return f"{PATH_EVIDENCE}/{snapshot_id}?offset={offset}"


def utc_naive(moment: datetime.datetime) -> datetime.datetime:
    """A zoned time as the naive UTC the store keeps."""
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)
