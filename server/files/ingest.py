"""File events inside the report's ingest transaction (called by server/intake/report.py).

Alert rules (docs/file-watcher.md): a created, modified or moved file with a web-shell finding
opens ``webshell`` (critical); with a sensitive word, ``sensitive_file`` (high). The subject is
the agent and the file's path, so one file is one open alert however often it changes. The
file deleted, or changed so that the finding is gone, resolves it.

A watcher that cannot work says so (``watch_failed``, per watched folder): that opens
``watch_failed`` (high), resolved by its ``watch_recovered``, so a blind watcher is not taken
for a quiet folder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import msgspec

from server.alerts.detect import open_sql, resolve_sql
from server.alerts.models import open_key
from server.files.models import FINDING_ALERTS, FileEvent
from xunjian.core.contract import bodies, utc_naive
from xunjian.core.contract.bodies import Finding

EVENTS = FileEvent.__table__
_encode = msgspec.json.Encoder().encode
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
WATCH_FAILED = "watch_failed"
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
    events: Sequence[bodies.FileEvent],
    received: Any,
    time_param: Callable[[Any], Any],
) -> None:
    rows = []
    opening: list[tuple[Any, ...]] = []
    resolving: list[tuple[Any, ...]] = []
    for event in events:
        findings = event.findings
        rows.append(
            (
                agent_id,
                report_id,
                event.action,
                event.path,
                event.from_path,
                event.folder,
                event.folder_kind,
                event.sha256,
                event.size,
                event.owner,
                None if event.mtime is None else time_param(utc_naive(event.mtime)),
                time_param(utc_naive(event.observed_at)),
                received,
                event.count,
                event.summarised_action,
                _encode(findings).decode(),
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
    event: bodies.FileEvent,
    findings: Sequence[Finding],
    received: Any,
    opening: list[tuple[Any, ...]],
    resolving: list[tuple[Any, ...]],
) -> None:
    action, path = event.action, event.path
    if action in {"watch_failed", "watch_recovered"}:
        key = subject_key(WATCH_FAILED, agent_id, event.folder)
        if action == "watch_recovered":
            resolving.append((received, key))
            return
        message = (
            f"the file watcher cannot watch {event.folder_kind} folder {event.folder}: "
            f"{event.error or 'no reason given'}; changes there go unseen until it is fixed "
            "(see `xunjian agent status` on the host)"
        )
        opening.append(
            (WATCH_FAILED, "high", agent_id, CHECK_ID, _resource(event.folder), message[:2000],
             key, received)
        )  # fmt: skip
        return
    if action == "moved" and event.from_path:
        for kind, _ in FINDING_ALERTS.values():
            resolving.append((received, subject_key(kind, agent_id, event.from_path)))
    if action not in {"created", "modified", "moved", "deleted"}:
        return
    found: dict[str, list[str]] = {}
    for finding in findings:
        found.setdefault(finding.kind, []).append(finding.rule)
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
            f"(sha256 {event.sha256 or 'not computed'}, {event.size} bytes, "
            f"owner {event.owner or '?'}, {event.folder_kind} folder {event.folder})"
        )
        opening.append(
            (kind, severity, agent_id, CHECK_ID, _resource(path), message[:2000], key, received)
        )
