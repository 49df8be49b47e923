"""The progress lines (one per step and host, safe from several threads) and the summary."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from xunjian.deploy.inventory import HostEntry
from xunjian.deploy.steps import HostOutcome


class ProgressPrinter:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, host: HostEntry, text: str) -> None:
        with self._lock:
            print(f"[{host.label}] {text}", file=self.stream, flush=True)


def _result(outcome: HostOutcome) -> str:
    if not outcome.ok:
        return f"FAILED: {outcome.reason}"
    if not outcome.changes:
        return "up to date" if outcome.action == "deploy" else "nothing to remove"
    return "changed" if outcome.action == "deploy" else "removed"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return [line.rstrip() for line in lines]


def summary(outcomes: Sequence[HostOutcome]) -> str:
    """The table at the end, then each failure's reason, then what changed and notes."""
    uninstall = bool(outcomes) and outcomes[0].action == "uninstall"
    header = ["HOST", "RESULT", "AGENT"]
    if not uninstall:
        header += ["STARTED BY", "FIRST REPORT"]
    rows = [header]
    for outcome in outcomes:
        row = [outcome.host.label, _result(outcome), outcome.agent_id or "-"]
        if not uninstall:
            row += [outcome.started_by or "-", outcome.report or "-"]
        rows.append(row)
    lines = _table(rows)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        lines += ["", "Failures:"]
        for outcome in failed:
            message = outcome.message.replace("\n", "\n      ")
            lines.append(f"  {outcome.host.label}: {outcome.reason}: {message}")
    changed = [outcome for outcome in outcomes if outcome.changes or outcome.notes]
    if changed:
        lines += ["", "Changes and notes:"]
        for outcome in changed:
            for change in outcome.changes:
                lines.append(f"  {outcome.host.label}: {change}")
            for note in outcome.notes:
                lines.append(f"  {outcome.host.label}: note: {note}")
    ok = len(outcomes) - len(failed)
    untouched = sum(1 for outcome in outcomes if outcome.ok and not outcome.changes)
    word = "up to date" if not uninstall else "had nothing installed"
    lines += [
        "",
        f"{len(outcomes)} host(s): {ok} ok ({ok - untouched} changed, {untouched} {word}), "
        f"{len(failed)} failed",
    ]
    return "\n".join(lines)
