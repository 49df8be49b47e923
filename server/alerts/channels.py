"""Notification channels, configured in the data folder's ``config.json``::

    "notify_channels": [
      {"name": "it-robot", "kind": "dingtalk", "min_severity": "high",
       "settings": {"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=...",
                    "secret": "SEC..."}}
    ]

Each entry is validated when the config loads, its settings by the notifier's own validation
(``server.notify.build_notifier``), so a misspelt key stops the server from starting instead of
silently losing alerts. Imports no Flask or SQLAlchemy (server/config.py uses it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from server.notify import ConfigError as NotifierConfigError
from server.notify import Notifier, build_notifier
from xunjian.core.contract import SEVERITIES

SEVERITY_ORDER = SEVERITIES  # least to most severe (xunjian/core/contract/)
NAME_LENGTH = 64
_KEYS = {"name", "kind", "settings", "min_severity"}


class ChannelError(ValueError):
    """A channel entry is invalid; the message names the entry and the reason."""


@dataclass(frozen=True)
class Channel:
    name: str
    kind: str
    # Secrets live here (robot keys, passwords): never in a repr, a log line or an API answer.
    settings: Mapping[str, Any] = field(repr=False)
    min_severity: str = "low"
    # Seconds an alert must stay unacknowledged before this channel is told (on-call tiers:
    # 0 for tier 1 and for channels on no tier).
    delay_seconds: int = 0
    tier: int | None = None

    def notifier(self) -> Notifier[Any]:
        return build_notifier(self.kind, self.settings)

    def wants(self, severity: str) -> bool:
        return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(self.min_severity)


def parse_channels(raw: Any) -> tuple[Channel, ...]:
    if not isinstance(raw, list):
        raise ChannelError("notify_channels must be a list of channel objects")
    channels: list[Channel] = []
    for index, entry in enumerate(raw):
        where = f"notify_channels[{index}]"
        if not isinstance(entry, dict):
            raise ChannelError(f"{where} must be an object")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise ChannelError(f"{where}: unknown keys {', '.join(unknown)}")
        name = entry.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= NAME_LENGTH:
            raise ChannelError(f"{where}: name must be text of 1..{NAME_LENGTH} characters")
        if any(channel.name == name for channel in channels):
            raise ChannelError(f"{where}: the name {name!r} is used twice")
        kind, settings = entry.get("kind"), entry.get("settings", {})
        if not isinstance(kind, str):
            raise ChannelError(f"{where} ({name}): kind must be text")
        min_severity = entry.get("min_severity", "low")
        if min_severity not in SEVERITY_ORDER:
            raise ChannelError(
                f"{where} ({name}): min_severity must be one of {', '.join(SEVERITY_ORDER)}"
            )
        try:
            build_notifier(kind, settings)
        except NotifierConfigError as error:
            raise ChannelError(f"{where} ({name}): {error}") from error
        channels.append(Channel(name, kind, dict(settings), min_severity))
    return tuple(channels)


def apply_roster(channels: tuple[Channel, ...], raw: Any) -> tuple[Channel, ...]:
    """The on-call roster (POLICY.md P1, I2)::

        "oncall_tiers": [
          {"channels": ["duty-robot"], "escalate_after_seconds": 900},
          {"channels": ["it-head-mail"], "escalate_after_seconds": 1800},
          {"channels": ["principal-sms"]}
        ]

    Tier 1 is told at once; an alert nobody acknowledged within tier N's
    ``escalate_after_seconds`` goes to tier N+1 as well (so tier 3 above hears of it after
    2700 s). Channels on no tier are told at once, like tier 1."""
    if raw is None:
        return channels
    if not isinstance(raw, list):
        raise ChannelError("oncall_tiers must be a list of {channels, escalate_after_seconds}")
    by_name = {channel.name: channel for channel in channels}
    placed: dict[str, Channel] = {}
    delay = 0
    for index, tier in enumerate(raw):
        where = f"oncall_tiers[{index}]"
        if not isinstance(tier, dict) or not set(tier) <= {"channels", "escalate_after_seconds"}:
            raise ChannelError(f"{where} must be {{channels, escalate_after_seconds}}")
        names = tier.get("channels")
        if not isinstance(names, list) or not names:
            raise ChannelError(f"{where}: channels must be a non-empty list of channel names")
        for name in names:
            if name not in by_name:
                raise ChannelError(f"{where}: no channel named {name!r} in notify_channels")
            if name in placed:
                raise ChannelError(f"{where}: channel {name!r} is on two tiers")
            placed[name] = replace(by_name[name], delay_seconds=delay, tier=index + 1)
        after = tier.get("escalate_after_seconds")
        last = index == len(raw) - 1
        if after is None and not last:
            raise ChannelError(f"{where}: escalate_after_seconds is required below the last tier")
        if after is not None and (
            not isinstance(after, int) or isinstance(after, bool) or after < 1
        ):
            raise ChannelError(f"{where}: escalate_after_seconds must be a whole number >= 1")
        delay += after or 0
    return tuple(placed.get(channel.name, channel) for channel in channels)
