"""What the service does between the SCM's start and stop, free of any Windows API:
protect the state folder, enroll from the installer's properties if not yet enrolled
(retrying while the server is unreachable), then run the same agent as ``xunjian agent run``
until :meth:`ServiceBody.stop`. See docs/windows-deploy.md."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from agent.state import AgentState, StateError
from agent.windows import staged
from agent.windows.acl import AclError, SecurityApi, protect_state_folder

log = logging.getLogger("xunjian.agent.windows")

# An enrollment that failed (server down at boot, say) is retried this often, and a service
# installed without properties looks again for ones a repair may have staged.
ENROLL_RETRY_SECONDS = 60.0


class RunnableAgent(Protocol):
    """What ``agent.service.build_service`` returns (``RunningAgent``), as far as used here."""

    def run(self, stop: threading.Event) -> None: ...

    def close(self) -> None: ...


def _default_enroll(state_dir: Path, server_url: str, token: str, ca_sha256: str) -> object:
    from agent.enroll import enroll

    return enroll(state_dir, server_url, token, ca_sha256)


def _default_build(state: AgentState) -> RunnableAgent:
    from agent.service import build_service

    return build_service(state)


class ServiceBody:
    """One service run. ``security`` is None only where no ACL can be set (tests on Linux
    that do not look at it); ``enroll`` and ``build`` are the agent's own by default."""

    def __init__(
        self,
        state_dir: Path,
        security: SecurityApi | None,
        enroll: staged.Enroll = _default_enroll,
        build: Callable[[AgentState], RunnableAgent] = _default_build,
        retry_seconds: float = ENROLL_RETRY_SECONDS,
    ) -> None:
        self.state_dir = state_dir
        self.security = security
        self.enroll = enroll
        self.build = build
        self.retry_seconds = retry_seconds
        self.stopping = threading.Event()
        self.running = threading.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return; safe from any thread, before or during the run."""
        self.stopping.set()

    def run(self) -> int:
        """0 after a requested stop; 1 when the state folder cannot be made safe or used (the
        SCM's recovery actions then restart the service)."""
        try:
            if self.security is not None:
                protect_state_folder(self.state_dir, self.security)
        except AclError as exc:
            log.error("%s; not starting with a state folder others could read", exc)
            return 1
        if not self._wait_for_enrollment():
            return 0
        state = AgentState(self.state_dir)
        try:
            agent = self.build(state)
        except (StateError, OSError, ValueError) as exc:
            log.error("cannot start the agent: %s", exc)
            return 1
        self.running.set()
        try:
            agent.run(self.stopping)
        finally:
            # Closes the transport and the spool (under its lock: a report being written
            # commits whole or not at all before the database closes).
            agent.close()
            self.running.clear()
        return 0

    def _wait_for_enrollment(self) -> bool:
        """True once enrolled; False when a stop came first."""
        while not self.stopping.is_set():
            try:
                if staged.enroll_from_staged(self.state_dir, self.enroll):
                    return True
                log.error(
                    "not enrolled and no installer properties in %s: reinstall (or repair) with "
                    "SERVERURL, TOKEN and CASHA256, or run `xunjian agent enroll`",
                    self.state_dir,
                )
            except Exception as exc:  # the message of EnrollmentError says what to do
                log.error("enrollment failed, retrying in %.0fs: %s", self.retry_seconds, exc)
            if self.stopping.wait(self.retry_seconds):
                return False
        return False
