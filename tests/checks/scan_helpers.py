"""Running `xunjian scan` as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def scan(
    root: Path | None, *extra: str, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    argv = [*prefix, sys.executable, "-m", "xunjian.cli", "scan", *extra]
    if root is not None:
        argv += ["--root", str(root)]
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)


def scan_json(root: Path | None, prefix: Sequence[str] = ()) -> tuple[int, list[dict[str, Any]]]:
    completed = scan(root, "--json", prefix=prefix)
    assert completed.returncode in (0, 1), completed.stderr
    return completed.returncode, json.loads(completed.stdout)


def failures(results: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["check_id"], r["resource"]) for r in results if r["status"] == "fail"}
