"""The ``watch`` part of a group's policy: which folders the agents watch, and the sensitive
words screened for in upload folders. Stored in ``Group.policy["watch"]``; validated here, for
the CLI, the API and the console alike."""

from __future__ import annotations

from typing import Any

from xunjian.core.contract import FILE_PATH_MAX as MAX_PATH
from xunjian.core.contract import MAX_SENSITIVE_WORDS as MAX_WORDS
from xunjian.core.contract import MAX_WATCH_FOLDERS as MAX_FOLDERS
from xunjian.core.contract import SENSITIVE_WORD_MAX as MAX_WORD_LENGTH
from xunjian.core.contract import WATCH_KINDS


class WatchPolicyError(ValueError):
    """The watch settings are invalid; the message names the entry."""


def _absolute(path: str) -> bool:
    # A Windows drive path (C:\\inetpub\\wwwroot) or a POSIX absolute path; the agent decides
    # on its own system, the server only refuses what can be nothing but a mistake.
    return path.startswith("/") or (len(path) > 2 and path[1] == ":" and path[2] in "\\/")


def validate_watch(raw: Any) -> dict[str, Any]:
    """{"folders": [{"path", "kind"}], "sensitive_words": [...]}, cleaned and checked."""
    if not isinstance(raw, dict):
        raise WatchPolicyError("watch must be an object")
    unknown = sorted(set(raw) - {"folders", "sensitive_words"})
    if unknown:
        raise WatchPolicyError(f"watch: unknown key {unknown[0]!r}")
    folders = raw.get("folders", [])
    if not isinstance(folders, list) or len(folders) > MAX_FOLDERS:
        raise WatchPolicyError(f"watch.folders: a list of at most {MAX_FOLDERS}")
    cleaned: list[dict[str, str]] = []
    for index, entry in enumerate(folders):
        if not isinstance(entry, dict) or set(entry) != {"path", "kind"}:
            raise WatchPolicyError(f"watch.folders[{index}]: needs exactly path and kind")
        path, kind = entry["path"], entry["kind"]
        if not isinstance(path, str) or not 0 < len(path) <= MAX_PATH or "\0" in path:
            raise WatchPolicyError(f"watch.folders[{index}].path: 1-{MAX_PATH} characters")
        if not _absolute(path):
            raise WatchPolicyError(f"watch.folders[{index}].path: must be absolute: {path!r}")
        if kind not in WATCH_KINDS:
            raise WatchPolicyError(f"watch.folders[{index}].kind: one of {', '.join(WATCH_KINDS)}")
        if any(existing["path"] == path for existing in cleaned):
            raise WatchPolicyError(f"watch.folders[{index}]: {path!r} is listed twice")
        cleaned.append({"path": path, "kind": kind})
    words = raw.get("sensitive_words", [])
    if not isinstance(words, list) or len(words) > MAX_WORDS:
        raise WatchPolicyError(f"watch.sensitive_words: a list of at most {MAX_WORDS}")
    kept: list[str] = []
    for index, word in enumerate(words):
        if not isinstance(word, str) or not 0 < len(word.strip()) <= MAX_WORD_LENGTH:
            raise WatchPolicyError(
                f"watch.sensitive_words[{index}]: 1-{MAX_WORD_LENGTH} characters"
            )
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
