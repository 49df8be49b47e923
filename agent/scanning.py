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
import os
import signal
import subprocess
import sys
import threading
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


def in_process_scanner(root: Path | None = None, cache: Path | None = None) -> Scanner:
    """``cache``: the agent's state folder, where scheduled jobs leave slow facts."""

    def scan(policy_checks: PolicyChecks) -> ScanOutcome:
        from checks.api import collect_baseline, collect_inventory, run_scan

        results = run_scan(policy_checks, root=root, cache=cache)
        try:
            inventory: dict[str, Any] | None = collect_inventory(root=root)
            # Account and package names: the server keeps the first it sees as this host's
            # baseline and hands it back to the checks that report what was added since.
            inventory["baseline"] = collect_baseline(root=root)
        except Exception:  # inventory is secondary: the results still go out
            inventory = None
        return results, inventory

    return scan


class SubprocessScanner:
    """Runs each scan in ``python -m agent.scan_worker``; :meth:`cancel` ends a running one."""

    def __init__(
        self, root: Path | None = None, timeout: float = 1800.0, cache: Path | None = None
    ) -> None:
        self.root = root
        self.timeout = timeout
        self.cache = cache
        self._lock = threading.Lock()
        self._running: subprocess.Popen[bytes] | None = None
        self._cancelled = False

    def __call__(self, policy_checks: PolicyChecks) -> ScanOutcome:
        request = json.dumps(
            {
                "policy_checks": dict(policy_checks) if policy_checks is not None else None,
                "root": str(self.root) if self.root is not None else None,
                "cache": str(self.cache) if self.cache is not None else None,
            }
        ).encode("utf-8")
        with self._lock:
            if self._cancelled:
                raise ScanFailed("the agent is stopping")
            try:
                # A session of its own, so a timeout or a stop also ends the commands the
                # collectors started, not just the worker.
                child = subprocess.Popen(
                    [sys.executable, "-m", "agent.scan_worker"],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=os.name != "nt",
                )
            except OSError as exc:
                raise ScanFailed(f"could not start the scan worker: {exc}") from exc
            self._running = child
        try:
            try:
                stdout, stderr = child.communicate(request, timeout=self.timeout)
            except subprocess.TimeoutExpired as exc:
                _end(child)
                child.communicate()
                raise ScanFailed(
                    f"the scan did not finish within {self.timeout:.0f}s; killed"
                ) from exc
        finally:
            with self._lock:
                self._running = None
        if self._cancelled:
            raise ScanFailed("the scan was stopped because the agent is stopping")
        return _read_outcome(child.returncode, stdout, stderr)

    def cancel(self) -> None:
        """Stop the running scan, and refuse new ones (the service is shutting down)."""
        with self._lock:
            self._cancelled = True
            if self._running is not None and self._running.poll() is None:
                _end(self._running)


def _end(child: subprocess.Popen[bytes]) -> None:
    if os.name != "nt":
        try:
            os.killpg(child.pid, signal.SIGKILL)
            return
        except OSError:
            pass
    child.kill()


def _read_outcome(returncode: int, stdout: bytes, stderr: bytes) -> ScanOutcome:
    if returncode != 0:
        tail = stderr.decode("utf-8", errors="replace")[-_STDERR_TAIL:].strip()
        # The whole traceback goes to the log; the status gets its last line, the error.
        log.warning("scan worker exited %d; its stderr ends:\n%s", returncode, tail)
        last_line = tail.splitlines()[-1] if tail else "(no output)"
        raise ScanFailed(f"the scan worker exited {returncode}: {last_line}")
    if len(stdout) > MAX_WORKER_OUTPUT:
        raise ScanFailed("the scan worker's output is too large")
    try:
        answer = json.loads(stdout)
        results, inventory = answer["results"], answer["inventory"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ScanFailed(f"the scan worker's output is unreadable: {exc!r}") from exc
    if not isinstance(results, list) or not isinstance(inventory, dict | None):
        raise ScanFailed("the scan worker's output has the wrong shape")
    return results, inventory


def subprocess_scanner(
    root: Path | None = None, timeout: float = 1800.0, cache: Path | None = None
) -> SubprocessScanner:
    return SubprocessScanner(root, timeout, cache)
