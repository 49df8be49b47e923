"""The monitors the server assigns this agent: ``GET /api/v1/agent/monitors``'s answer, checked
before any of it is used (a bad answer is a MessageError; the agent keeps its last list)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.messages import MessageError
from xunjian.core.contract import (
    MAX_AGENT_MONITORS,
    MONITOR_ID_MAX,
    MONITOR_INTERVAL_BOUNDS,
    MONITOR_REDIRECT_BOUNDS,
    MONITOR_TIMEOUT_BOUNDS,
)
from xunjian.core.probe import UrlError, check_url


@dataclass(frozen=True)
class MonitorSpec:
    """How to fetch one page; the server keeps every judging setting to itself."""

    id: int
    url: str
    interval_seconds: int
    timeout_seconds: int
    follow_redirects: bool
    max_redirects: int


def _whole(raw: dict[str, Any], name: str, bounds: tuple[int, int], where: str) -> int:
    value = raw.get(name)
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MessageError(f"{where}.{name} must be a whole number {low}..{high}")
    return value


def parse_monitor_list(value: Any) -> list[MonitorSpec]:
    """``{"monitors": [{"id", "url", "interval_seconds", "timeout_seconds",
    "follow_redirects", "max_redirects"}], ...}``; unknown keys are ignored (a newer server)."""
    if not isinstance(value, dict):
        raise MessageError("the monitor list must be a JSON object")
    raw_list = value.get("monitors")
    if not isinstance(raw_list, list) or len(raw_list) > MAX_AGENT_MONITORS:
        raise MessageError(f"monitors must be a list of at most {MAX_AGENT_MONITORS}")
    specs: list[MonitorSpec] = []
    seen: set[int] = set()
    for index, raw in enumerate(raw_list):
        where = f"monitors[{index}]"
        if not isinstance(raw, dict):
            raise MessageError(f"{where} must be an object")
        monitor_id = _whole(raw, "id", (1, MONITOR_ID_MAX), where)
        if monitor_id in seen:
            raise MessageError(f"{where}.id {monitor_id} appears twice")
        seen.add(monitor_id)
        try:
            url = check_url(raw.get("url"))
        except UrlError as exc:
            raise MessageError(f"{where}.url: {exc}") from exc
        follow = raw.get("follow_redirects")
        if not isinstance(follow, bool):
            raise MessageError(f"{where}.follow_redirects must be true or false")
        specs.append(
            MonitorSpec(
                id=monitor_id,
                url=url,
                interval_seconds=_whole(raw, "interval_seconds", MONITOR_INTERVAL_BOUNDS, where),
                timeout_seconds=_whole(raw, "timeout_seconds", MONITOR_TIMEOUT_BOUNDS, where),
                follow_redirects=follow,
                max_redirects=_whole(raw, "max_redirects", MONITOR_REDIRECT_BOUNDS, where),
            )
        )
    return specs
