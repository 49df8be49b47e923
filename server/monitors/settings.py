"""The monitors' settings in config.json, validated when the config loads (imported by
server/config.py, so it imports neither Flask nor SQLAlchemy)::

    "monitor_threads": 16,               probes at once in each server process
    "monitor_raw_retention_days": 30,    raw results kept; aggregates are kept a year
    "monitor_digest_time": "08:30",      the daily digest (POLICY.md E7), working days only,
    "monitor_digest_timezone": "",       in this time zone ("": console_timezone's)
    "monitor_allowed_networks": ["10.0.0.0/8"]   non-global networks monitors may fetch
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from xunjian.core.probe import parse_networks

DEFAULT_THREADS = 16
DEFAULT_RAW_RETENTION_DAYS = 30
DEFAULT_DIGEST_TIME = "08:30"
# "" is console_timezone: one zone for the console, reports and messages unless set apart.
DEFAULT_DIGEST_TIMEZONE = ""
MAX_THREADS = 256
MAX_ALLOWED_NETWORKS = 100
_TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def settings_problem(values: dict[str, object]) -> str | None:
    threads = values.get("monitor_threads", DEFAULT_THREADS)
    if isinstance(threads, int) and threads > MAX_THREADS:
        return f"monitor_threads must be at most {MAX_THREADS}"
    text = values.get("monitor_digest_time", DEFAULT_DIGEST_TIME)
    if not isinstance(text, str) or not _TIME.fullmatch(text):
        return "monitor_digest_time must be HH:MM (24-hour clock)"
    zone = values.get("monitor_digest_timezone", DEFAULT_DIGEST_TIMEZONE)
    if zone == "":
        return None
    if not isinstance(zone, str):
        return "monitor_digest_timezone must be a time zone name such as Asia/Shanghai"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return f"monitor_digest_timezone: unknown time zone {zone[:60]!r}"
    return None


def allowed_networks(values: object) -> tuple[str, ...]:
    """``monitor_allowed_networks`` checked (ValueError says why), as its canonical texts."""
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise ValueError("must be a list of networks such as 10.0.0.0/8")
    if len(values) > MAX_ALLOWED_NETWORKS:
        raise ValueError(f"at most {MAX_ALLOWED_NETWORKS} networks")
    return tuple(str(network) for network in parse_networks(values))
