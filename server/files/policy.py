"""The ``watch`` part of a group's policy: which folders the agents watch, and the sensitive
words screened for in upload folders. Stored in ``Group.policy["watch"]``; validated here, for
the CLI, the API and the console alike, through the ``WatchSettings`` model
(server/files/schemas.py), where the bounds are."""

from __future__ import annotations

from typing import Any

from server.files.schemas import WatchSettings
from xunjian.core.schema import BodyError, convert


class WatchPolicyError(ValueError):
    """The watch settings are invalid; the message names the entry."""


def _absolute(path: str) -> bool:
    # A Windows drive path (C:\\inetpub\\wwwroot) or a POSIX absolute path; the agent decides
    # on its own system, the server only refuses what can be nothing but a mistake.
    return path.startswith("/") or (len(path) > 2 and path[1] == ":" and path[2] in "\\/")


def validate_watch(raw: Any) -> dict[str, Any]:
    """{"folders": [{"path", "kind"}], "sensitive_words": [...]}, cleaned and checked: the
    shape and bounds by the ``WatchSettings`` model (server/files/schemas.py), then what a
    schema cannot say (absolute paths, each folder once)."""
    try:
        settings = raw if isinstance(raw, WatchSettings) else convert(raw, WatchSettings)
    except BodyError as error:
        place = "watch" if error.place == "body" else f"watch.{error.place}"
        raise WatchPolicyError(f"{place}: {error.reason}") from None
    cleaned: list[dict[str, str]] = []
    for index, entry in enumerate(settings.folders):
        if not _absolute(entry.path):
            raise WatchPolicyError(f"watch.folders[{index}].path: must be absolute: {entry.path!r}")
        if any(existing["path"] == entry.path for existing in cleaned):
            raise WatchPolicyError(f"watch.folders[{index}]: {entry.path!r} is listed twice")
        cleaned.append({"path": entry.path, "kind": entry.kind})
    kept: list[str] = []
    for word in settings.sensitive_words:
        if word.strip() not in kept:
            kept.append(word.strip())
    return {"folders": cleaned, "sensitive_words": kept}


def watch_section(stored_policy: dict[str, Any]) -> dict[str, Any]:
    """What the agents receive; a stored section that no longer validates is sent empty (and
    the console shows the problem) rather than breaking every agent's policy fetch."""
    try:
        return validate_watch(stored_policy.get("watch") or {})
    except WatchPolicyError:
        return {"folders": [], "sensitive_words": []}
