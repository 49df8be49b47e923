"""Windows Update on the running PC (E1), asked through PowerShell (powershell.py): its
history (``Microsoft.Update.Session`` -> ``IUpdateSearcher.QueryHistory``) and its pending
updates (``IUpdateSearcher.Search``, slow: on the agent's schedule, read from its cache).

The history names each installed cumulative update with its KB and, since 2021, its
build.UBR ("2024-10 Cumulative Update for Windows 11 Version 24H2 for x64-based Systems
(KB5044284) (26100.2033)"; on a Chinese Windows "...的累积更新(KB5044284) (26100.2033)"). An
entry without a build.UBR is not turned into one: the hive's Component Based Servicing
packages (system.py) name it instead.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from checks.collectors.windows.powershell import json_datetime, records, run_json
from checks.errors import CollectError
from checks.facts import PendingUpdate
from checks.facts_windows import CumulativeUpdate
from checks.host import HostContext

# The newest 500 entries: a PC updated monthly for ten years has fewer installs of any kind.
UPDATE_HISTORY = (
    "$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); "
    "$count = $searcher.GetTotalHistoryCount(); "
    "if ($count -gt 0) { $searcher.QueryHistory(0, [Math]::Min($count, 500))"
    " | Select-Object Date, Title, Operation, ResultCode | ConvertTo-Json -Compress }"
)
# UpdateOperation and OperationResultCode (wuapi.h): an installation that succeeded, or
# succeeded with errors.
_INSTALLATION = 1
_SUCCEEDED = (2, 3)
_CUMULATIVE = ("cumulative update", "累积更新", "累計更新")
_BUILD_UBR = re.compile(r"\((\d{5})\.(\d+)\)")
# No \b before KB: in "累积更新KB5044284" both sides are word characters to Python.
_KB = re.compile(r"KB(\d{6,8})(?!\d)", re.I)


def cumulative_updates_from_history(entries: list[dict[str, Any]]) -> list[CumulativeUpdate]:
    """Installed Windows cumulative updates in the history, oldest first."""
    updates = []
    for entry in entries:
        title = str(entry.get("Title") or "")
        if entry.get("Operation") != _INSTALLATION or entry.get("ResultCode") not in _SUCCEEDED:
            continue
        lowered = title.casefold()
        if not any(word in lowered for word in _CUMULATIVE) or ".net" in lowered:
            continue  # .NET Framework has cumulative updates of its own
        build = _BUILD_UBR.search(title)
        if build is None:
            continue
        kb = _KB.search(title)
        updates.append(
            CumulativeUpdate(
                build=int(build[1]),
                ubr=int(build[2]),
                installed_at=json_datetime(entry.get("Date")),
                source="history",
                kb=f"KB{kb[1]}" if kb else "",
            )
        )
    return sorted(updates, key=lambda update: (update.build, update.ubr))


def merged(cbs: list[CumulativeUpdate], history: list[CumulativeUpdate]) -> list[CumulativeUpdate]:
    """Both sources, one entry per build.UBR (the history's, which names the KB), oldest first."""
    by_level = {(update.build, update.ubr): update for update in cbs}
    for update in history:
        known = by_level.get((update.build, update.ubr))
        if known is None or update.installed_at is not None:
            by_level[(update.build, update.ubr)] = update
    return [by_level[level] for level in sorted(by_level)]


# Pending updates: Windows Update's search asks Microsoft's servers (or the school's WSUS) and
# takes from seconds to many minutes. A scan never waits for it: the agent runs it on its own
# schedule (agent/runner.py) and leaves the answer in its state folder, which scans read.
PENDING_CACHE = "windows_pending_updates.json"
SEARCH_INTERVAL_SECONDS = 6 * 3600.0
SEARCH_TIMEOUT_SECONDS = 900.0
# A list older than this is not judged: the searches since have failed (the error says why).
MAX_CACHE_AGE = datetime.timedelta(days=3)
# Single quotes only: double quotes do not survive the Windows command line into PowerShell.
PENDING_UPDATES_SEARCH = (
    "$searcher = (New-Object -ComObject Microsoft.Update.Session).CreateUpdateSearcher(); "
    "$result = $searcher.Search('IsInstalled=0 and Type=''Software'''); "
    "$result.Updates | Select-Object Title, MsrcSeverity,"
    " @{n='KBArticleIDs';e={@($_.KBArticleIDs)}},"
    " @{n='Categories';e={@($_.Categories | ForEach-Object { $_.Name })}}"
    " | ConvertTo-Json -Compress -Depth 3"
)
_SECURITY_SEVERITIES = {"critical", "important"}


def search_pending_updates(host: HostContext) -> list[dict[str, Any]]:
    """The pending updates as IUpdate records (Title, MsrcSeverity, KBArticleIDs, Categories).
    Slow: for the agent's scheduled job only."""
    why = "the search for pending Windows updates"
    answer = run_json(host, PENDING_UPDATES_SEARCH, why, SEARCH_TIMEOUT_SECONDS)
    return records(answer)


def pending_from_cache(cache: dict[str, Any], now: datetime.datetime) -> tuple[PendingUpdate, ...]:
    """The last successful search's updates; CollectError when there is none recent enough."""
    searched_at = json_datetime(cache.get("searched_at"))
    error = str(cache.get("error") or "")
    if searched_at is None:
        raise CollectError(f"the search for pending Windows updates has not succeeded: {error}")
    if now - searched_at > MAX_CACHE_AGE:
        raise CollectError(
            f"the last successful search for pending Windows updates was on "
            f"{searched_at:%Y-%m-%d}; since then: {error or 'no search ran'}"
        )
    updates = []
    for record in cache.get("updates") or ():
        if not isinstance(record, dict):
            continue
        severity = str(record.get("MsrcSeverity") or "")
        categories = [str(name) for name in record.get("Categories") or ()]
        kbs = [f"KB{number}" for number in record.get("KBArticleIDs") or ()]
        updates.append(
            PendingUpdate(
                package=str(record.get("Title") or "?"),
                current_version=None,
                new_version=", ".join(kbs),
                origin="Windows Update",
                is_security=severity.casefold() in _SECURITY_SEVERITIES
                or "Security Updates" in categories,
            )
        )
    return tuple(updates)
