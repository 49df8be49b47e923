"""How the service runs the check library: a :data:`Scanner` takes the policy's checks and
returns ``(results, inventory)``.

The default runs each scan in a short-lived child process (``python -m agent.scan_worker``):

* the service's idle memory stays that of the service alone; the check library, its collectors
  and a scan's garbage live and die with the child;
* a collector that hangs is killed at ``scan_timeout_seconds``, one that crashes the
  interpreter costs one scan, and neither takes the service down.

``in_process_scanner`` calls :mod:`checks.api` directly (tests, and hosts where starting a
process is not wanted).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PolicyChecks = Mapping[str, Mapping[str, Any]] | None
ScanOutcome = tuple[list[dict[str, Any]], dict[str, Any] | None]
Scanner = Callable[[PolicyChecks], ScanOutcome]

log = logging.getLogger(__name__)

# A scan's JSON is a few hundred KiB at most; past this the child is misbehaving.
MAX_WORKER_OUTPUT = 32 * 1024 * 1024
_STDERR_TAIL = 2000


class ScanFailed(Exception):
    """The check library could not produce results this time."""


def in_process_scanner(root: Path | None = None) -> Scanner:
    def scan(policy_checks: PolicyChecks) -> ScanOutcome:
        from checks.api import collect_inventory, run_scan

        results = run_scan(policy_checks, root=root)
        try:
            inventory: dict[str, Any] | None = collect_inventory(root=root)
        except Exception:  # inventory is secondary: the results still go out
            inventory = None
        return results, inventory

    return scan


def subprocess_scanner(root: Path | None = None, timeout: float = 1800.0) -> Scanner:
    def scan(policy_checks: PolicyChecks) -> ScanOutcome:
        request = json.dumps(
            {
                "policy_checks": dict(policy_checks) if policy_checks is not None else None,
                "root": str(root) if root is not None else None,
            }
        )
        try:
            done = subprocess.run(
                [sys.executable, "-m", "agent.scan_worker"],
                input=request.encode("utf-8"),
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ScanFailed(f"the scan did not finish within {timeout:.0f}s; killed") from exc
        except OSError as exc:
            raise ScanFailed(f"could not start the scan worker: {exc}") from exc
        if done.returncode != 0:
            tail = done.stderr.decode("utf-8", errors="replace")[-_STDERR_TAIL:].strip()
            # The whole traceback goes to the log; the status gets its last line, the error.
            log.warning("scan worker exited %d; its stderr ends:\n%s", done.returncode, tail)
            last_line = tail.splitlines()[-1] if tail else "(no output)"
            raise ScanFailed(f"the scan worker exited {done.returncode}: {last_line}")
        if len(done.stdout) > MAX_WORKER_OUTPUT:
            raise ScanFailed("the scan worker's output is too large")
        try:
            answer = json.loads(done.stdout)
            results, inventory = answer["results"], answer["inventory"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ScanFailed(f"the scan worker's output is unreadable: {exc!r}") from exc
        if not isinstance(results, list) or not isinstance(inventory, dict | None):
            raise ScanFailed("the scan worker's output has the wrong shape")
        return results, inventory

    return scan
