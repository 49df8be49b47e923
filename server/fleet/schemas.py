"""The hosts' REST bodies (``/api/v1/hosts...``, server/api.py): a host, its latest results
and inventory, and a queued command; docs/architecture.md, "Bodies and validation"."""

from __future__ import annotations

from typing import Any, Literal

from server.rest import Paging
from xunjian.core.contract import COMMAND_TYPES, SEVERITIES
from xunjian.core.contract import STATUSES as RESULT_STATUSES
from xunjian.core.schema import Body

CommandType = Literal[COMMAND_TYPES]  # type: ignore[valid-type]
ResultStatus = Literal[RESULT_STATUSES]  # type: ignore[valid-type]
Severity = Literal[SEVERITIES]  # type: ignore[valid-type]


class HostsQuery(Paging, kw_only=True):
    pass


class Host(Body):
    id: str
    hostname: str
    group: str
    os: str
    os_version: str  # the OS's release ("22H2", "12"), as the host's newest scan said
    os_build: str  # its build ("19045.2130"; the kernel's release on Linux)
    platform: str  # linux, windows, ... as the newest scan said; device for a network device
    online: bool  # seen within 3 heartbeat intervals; always false for a network device
    last_seen: str | None
    revoked: bool
    failing: int  # latest results with status fail


class HostPage(Body):
    hosts: list[Host]
    total: int
    limit: int
    offset: int


class HostResult(Body):
    """The latest result of one check on one resource."""

    check_id: str
    status: ResultStatus
    resource: str
    message: str
    evidence: dict[str, Any] | None
    severity: Severity
    rules: list[str] | None
    observed_at: str | None
    # The sentence as an id and its parameters when the agent sent one (checks/messages.py);
    # ``message`` is its English.
    message_id: str | None = None
    params: dict[str, str] | None = None


class Inventory(Body):
    data: dict[str, Any]
    observed_at: str | None


class HostResults(Body):
    host: Host
    results: list[HostResult]
    inventory: Inventory | None


class CommandRequest(Body):
    type: CommandType


class QueuedCommand(Body):
    id: str
    type: CommandType
