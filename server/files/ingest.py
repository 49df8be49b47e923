"""File events inside the report's ingest transaction (called by server/store/ingest.py).

Alert rules (docs/file-watcher.md): a created, modified or moved file with a web-shell finding
opens ``webshell`` (critical); with a sensitive word, ``sensitive_file`` (high). The subject is
the agent and the file's path, so one file is one open alert however often it changes. The
file deleted, or changed so that the finding is gone, resolves it.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from server.alerts.detect import open_sql, resolve_sql
from server.alerts.models import open_key
from server.files.models import FINDING_ALERTS, FileEvent
from server.schema import encode_fast

EVENTS = FileEvent.__table__
_COLUMNS = (
    "agent_id",
    "report_id",
    "action",
    "path",
    "from_path",
    "folder",
    "folder_kind",
    "sha256",
    "size",
    "owner",
    "mtime",
    "observed_at",
    "received_at",
    "count",
    "summarised_action",
    "findings",
)
CHECK_ID = "files.watch"
RESOURCE_LENGTH = 200


@cache
def insert_sql(mark: str) -> str:
    return (
        f"INSERT INTO {EVENTS.name} ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_COLUMNS))})"
    )


def subject_key(kind: str, agent_id: str, path: str) -> str:
    """One file, one subject: the path's digest keeps long paths inside the key's length."""
    return open_key(kind, agent_id, CHECK_ID, hashlib.sha256(path.encode()).hexdigest())


def _resource(path: str) -> str:
    return path if len(path) <= RESOURCE_LENGTH else "…" + path[-(RESOURCE_LENGTH - 1) :]


def store_file_events(
    cursor: Any,
    mark: str,
    agent_id: str,
    report_id: int,
    events: list[dict[str, Any]],
    received: Any,
    time_param: Any,
) -> None:
    rows = []
    opening: list[tuple[Any, ...]] = []
    resolving: list[tuple[Any, ...]] = []
    for event in events:
        findings = event.get("findings") or []
        rows.append(
            (
                agent_id,
                report_id,
                event["action"],
                event["path"],
                event.get("from_path"),
                event["folder"],
                event["folder_kind"],
                event.get("sha256"),
                event.get("size"),
                event.get("owner"),
                None if event.get("mtime") is None else time_param(event["mtime"]),
                time_param(event["observed_at"]),
                received,
                event.get("count"),
                event.get("summarised_action"),
                encode_fast(findings),
            )
        )
        _alerts(agent_id, event, findings, received, opening, resolving)
    cursor.executemany(insert_sql(mark), rows)
    if resolving:
        cursor.executemany(resolve_sql(mark), resolving)
    if opening:
        cursor.executemany(open_sql(mark), opening)


def _alerts(
    agent_id: str,
    event: dict[str, Any],
    findings: list[dict[str, str]],
    received: Any,
    opening: list[tuple[Any, ...]],
    resolving: list[tuple[Any, ...]],
) -> None:
    action, path = event["action"], event["path"]
    if action == "moved" and event.get("from_path"):
        for kind, _ in FINDING_ALERTS.values():
            resolving.append((received, subject_key(kind, agent_id, event["from_path"])))
    if action not in {"created", "modified", "moved", "deleted"}:
        return
    found: dict[str, list[str]] = {}
    for finding in findings:
        found.setdefault(finding["kind"], []).append(finding["rule"])
    for finding_kind, (kind, severity) in FINDING_ALERTS.items():
        key = subject_key(kind, agent_id, path)
        rules = found.get(finding_kind)
        if action == "deleted" or not rules:
            if action != "created":  # a new file has no open alert to resolve
                resolving.append((received, key))
            continue
        what = "web-shell signature" if finding_kind == "webshell" else "sensitive word"
        message = (
            f"{what} {', '.join(rules)} in {path} "
            f"(sha256 {event.get('sha256') or 'not computed'}, {event.get('size')} bytes, "
            f"owner {event.get('owner') or '?'}, {event['folder_kind']} folder {event['folder']})"
        )
        opening.append(
            (kind, severity, agent_id, CHECK_ID, _resource(path), message[:2000], key, received)
        )
