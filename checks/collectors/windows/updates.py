"""Windows Update's own history on the running PC (E1): ``Microsoft.Update.Session`` ->
``IUpdateSearcher.QueryHistory``, asked through PowerShell (powershell.py).

The history names each installed cumulative update with its KB and, since 2021, its
build.UBR ("2024-10 Cumulative Update for Windows 11 Version 24H2 for x64-based Systems
(KB5044284) (26100.2033)"; on a Chinese Windows "...的累积更新(KB5044284) (26100.2033)"). An
entry without a build.UBR is not turned into one: the hive's Component Based Servicing
packages (system.py) name it instead.
"""

from __future__ import annotations

import re
from typing import Any

from checks.collectors.windows.powershell import json_datetime
from checks.facts_windows import CumulativeUpdate

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
