"""What isolation does, apart from the packet filter (agent/isolation/firewall.py).

The record, ``isolation.json`` in the state folder (0600), is the truth: it survives restarts
and reboots, and the service re-applies the rules from it at start before anything else. It
holds the host's isolation *generation*: the number the server gives each isolate and release
of this host. A command is run only when

1. its type is in this host's own ``allowed_commands`` (agent.json; the server cannot change
   it) — an authentic command refused here is reported as ``failed`` with the reason;
2. it is signed by the command key pinned from the enrolled server (at enrollment, or on the
   first heartbeat over the CA-pinned connection for an agent enrolled before keys existed),
   for this agent id, this command id, its type and its generation: a command made by any
   other server, or for another agent, does not verify and changes nothing;
3. its generation is above the record's: a replayed command (the same bytes again, or an
   older isolate after a release) changes nothing.

Every change is also appended to ``isolation-events.jsonl`` beside the record, the local trail
that outlives the next change (the break-glass release especially).
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.isolation.firewall import (
    Firewall,
    FirewallError,
    ServerLink,
    outbound_blocked,
    platform_firewall,
)
from agent.state import (
    AgentConfig,
    AgentState,
    StateError,
    read_json_object,
    utc_now_text,
    write_json,
)
from agent.transport import InvalidServerUrl, parse_server_url
from xunjian.core.contract import (
    COMMAND_ISOLATE,
    COMMAND_RELEASE,
    ISOLATION_ERROR_MAX,
    ISOLATION_REASON_MAX,
    ISOLATION_RULES_MAX,
)
from xunjian.core.wire import SignatureError, public_key_from_text, verify_command

log = logging.getLogger("xunjian.agent.isolation")

RECORD_NAME = "isolation.json"
EVENTS_NAME = "isolation-events.jsonl"
LOCK_NAME = "isolation.lock"
MAX_LINK_ADDRESSES = 8


class CommandRefused(Exception):
    """An isolation command that is not run; the message says why."""


@dataclass
class IsolationRecord:
    state: str  # isolated | released | released_locally | failed
    generation: int
    changed_at: str
    command_id: str | None = None
    backend: str = ""
    rules: str = ""
    error: str = ""
    released_by: str = ""
    reason: str = ""
    link: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> IsolationRecord:
        generation = raw.get("generation")
        if not isinstance(raw.get("state"), str) or not isinstance(generation, int):
            raise StateError(f"{RECORD_NAME}: state or generation missing")
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in raw.items() if key in known})

    def server_link(self) -> ServerLink | None:
        try:
            return ServerLink(tuple(self.link["addresses"]), int(self.link["port"]))
        except (KeyError, TypeError, ValueError):
            return None

    def report(self) -> dict[str, Any]:
        """The heartbeat's ``isolation`` (contract bodies.IsolationReport), bounded."""
        answer: dict[str, Any] = {
            "state": self.state,
            "generation": self.generation,
            "changed_at": self.changed_at,
            "backend": self.backend[:32],
            "rules": self.rules[:ISOLATION_RULES_MAX],
            "error": self.error[:ISOLATION_ERROR_MAX],
            "released_by": self.released_by[:64],
            "reason": self.reason[:ISOLATION_REASON_MAX],
        }
        if self.command_id:
            answer["command_id"] = self.command_id
        return answer


def resolve_link(server_url: str) -> ServerLink:
    """The server's numeric addresses and port, from the enrolled URL (DNS only for a name,
    and only now, while the host is still connected)."""
    try:
        server = parse_server_url(server_url)
    except InvalidServerUrl as exc:
        raise FirewallError(f"the enrolled server URL is unusable: {exc}") from exc
    try:
        return ServerLink((str(ipaddress.ip_address(server.host)),), server.port)
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FirewallError(f"cannot resolve the server {server.host}: {exc}") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in found:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return ServerLink(tuple(addresses[:MAX_LINK_ADDRESSES]), server.port)


def probe_port(port: int) -> int:
    """A port of the server's address the link does not allow, for the probe that must fail."""
    return port + 1 if port < 65535 else port - 1


class IsolationController:
    """Isolation for one state folder. ``on_link`` is told the address to connect to while
    isolated (None when released): the transport then needs no DNS."""

    def __init__(
        self,
        state: AgentState,
        config: AgentConfig,
        firewall: Firewall | None = None,
        on_link: Callable[[str | None], None] | None = None,
    ) -> None:
        self.state = state
        self.config = config
        self.firewall = firewall if firewall is not None else platform_firewall()
        self.on_link = on_link or (lambda _address: None)
        # The scene before the rules (agent/isolation/__init__.py): set by agent.service.
        self.before_isolation: Callable[[str], object] | None = None

    @property
    def record_path(self) -> Path:
        return self.state.directory / RECORD_NAME

    # -- the record -------------------------------------------------------------------------
    def load(self) -> IsolationRecord | None:
        try:
            return IsolationRecord.from_dict(read_json_object(self.record_path))
        except FileNotFoundError:
            return None
        except (StateError, TypeError) as exc:
            # Read as no record (a new command or break-glass settles it), but never quietly:
            # the rules, if any, stay as they are until then.
            log.error("the isolation record is damaged: %s", exc)
            return None

    def _save(self, record: IsolationRecord, event: str) -> None:
        write_json(self.record_path, asdict(record))
        line = json.dumps({"event": event, **asdict(record)}, ensure_ascii=False)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        fd = os.open(self.state.directory / EVENTS_NAME, flags, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as trail:
            trail.write(line + "\n")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One change at a time: the service and a break-glass command may both act."""
        try:
            import fcntl
        except ImportError:  # Windows: isolation is not implemented there yet
            yield
            return
        with open(self.state.directory / LOCK_NAME, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def report(self) -> dict[str, Any] | None:
        record = self.load()
        return record.report() if record else None

    # -- at start ---------------------------------------------------------------------------
    def restore(self) -> None:
        """Re-apply the rules of an isolated host (after a restart or reboot), from the
        record's numeric link: no DNS, and no wait for the server (it may be down)."""
        with self._locked():
            record = self.load()
            if record is None or record.state != "isolated":
                return
            link = record.server_link()
            if link is None:
                log.error("isolated, but the record has no server link: rules not re-applied")
                return
            try:
                applied = self.firewall.apply(link)
            except FirewallError as exc:
                record.error = f"re-applying the isolation rules at start failed: {exc}"[:1000]
                self._save(record, "restore_failed")
                log.error("%s", record.error)
                return
            self.on_link(link.addresses[0])
            # Every re-application goes into the trail: when the host came back isolated.
            record.rules, record.backend, record.error = applied.rules, applied.backend, ""
            self._save(record, "restored")
            log.warning(
                "this host is ISOLATED (generation %d, since %s): rules re-applied (%s)",
                record.generation,
                record.changed_at,
                applied.backend,
            )

    # -- commands ---------------------------------------------------------------------------
    def verify(
        self, command_id: str, command_type: str, generation: int | None, signature: str | None
    ) -> int:
        """Checks 2 and 3 of the module's docstring; the generation, or CommandRefused."""
        if generation is None or signature is None:
            raise CommandRefused(f"{command_type} carries no generation or signature")
        if not self.config.server_command_key:
            raise CommandRefused(
                "no server command key is pinned (it comes with enrollment or the first heartbeat)"
            )
        try:
            key = public_key_from_text(self.config.server_command_key)
            verify_command(
                key, self.config.agent_id, command_id, command_type, generation, signature
            )
        except (SignatureError, ValueError) as exc:
            raise CommandRefused(f"{command_type} {command_id}: {exc}") from exc
        record = self.load()
        if record is not None and generation <= record.generation:
            raise CommandRefused(
                f"{command_type} {command_id}: generation {generation} is not above "
                f"{record.generation} (a replayed or older command)"
            )
        return generation

    def run_command(
        self,
        command_id: str,
        command_type: str,
        generation: int | None,
        signature: str | None,
        server_answers: Callable[[], None],
    ) -> None:
        """Verify and carry out an isolate or release. ``server_answers`` raises unless the
        server answers a signed request (through the new rules, for an isolate)."""
        with self._locked():
            try:
                generation = self.verify(command_id, command_type, generation, signature)
            except CommandRefused as exc:
                log.warning("refused isolation command: %s", exc)
                return
            if command_type not in self.config.allowed_commands:
                # Authentic and new, but this host does not allow it: the server is told.
                reason = f"{command_type} is not in this agent's allowed_commands (agent.json)"
                log.warning("refused command %s: %s", command_id, reason)
                self._failed(generation, command_id, reason)
                return
            if command_type == COMMAND_ISOLATE:
                self._isolate(generation, command_id, server_answers)
            elif command_type == COMMAND_RELEASE:
                self._release(generation, command_id)

    def _failed(self, generation: int, command_id: str, error: str) -> None:
        previous = self.load()
        record = IsolationRecord(
            state="failed",
            generation=generation,
            changed_at=utc_now_text(),
            command_id=command_id,
            error=error[:ISOLATION_ERROR_MAX],
            link=previous.link if previous else {},
        )
        if previous is not None and previous.state == "isolated":
            # A release that failed leaves the host isolated: keep saying so.
            record.state, record.rules, record.backend = (
                "isolated",
                previous.rules,
                previous.backend,
            )
        self._save(record, "failed")

    def _isolate(
        self, generation: int, command_id: str, server_answers: Callable[[], None]
    ) -> None:
        try:
            if self.before_isolation is not None:
                self.before_isolation(command_id)  # the scene, before anything changes
        except Exception:
            log.exception("the before-isolation hook (evidence snapshot) failed; isolating anyway")
        try:
            link = resolve_link(self.config.server_url)
            applied = self.firewall.apply(link)
        except FirewallError as exc:
            self._failed(generation, command_id, f"the isolation rules were not set: {exc}")
            log.error("isolation failed: %s", exc)
            return
        problem = None
        if not outbound_blocked(link.addresses[0], probe_port(link.port)):
            problem = "the rules did not take: a probe datagram to a blocked port left the host"
        else:
            self.on_link(link.addresses[0])
            try:
                server_answers()
            except Exception as exc:
                problem = f"the server did not answer through the isolation rules: {exc}"
        if problem is not None:
            # Never leave a host cut off from its server: take the rules back and say why.
            self.on_link(None)
            with contextlib.suppress(FirewallError):
                self.firewall.remove()
            self._failed(generation, command_id, f"{problem}; rules taken back")
            log.error("isolation failed: %s; rules taken back", problem)
            return
        record = IsolationRecord(
            state="isolated",
            generation=generation,
            changed_at=utc_now_text(),
            command_id=command_id,
            backend=applied.backend,
            rules=applied.rules,
            link=link.as_dict(),
        )
        self._save(record, "isolated")
        log.warning(
            "this host is now ISOLATED (command %s, generation %d): only %s port %d and "
            "loopback are reachable (%s)",
            command_id,
            generation,
            ", ".join(link.addresses),
            link.port,
            applied.backend,
        )

    def _release(self, generation: int, command_id: str) -> None:
        try:
            self.firewall.remove()
            still = self.firewall.present()
        except FirewallError as exc:
            self._failed(generation, command_id, f"the isolation rules were not removed: {exc}")
            return
        if still:
            self._failed(generation, command_id, "the isolation rules are still in place")
            return
        self.on_link(None)
        previous = self.load()
        record = IsolationRecord(
            state="released",
            generation=generation,
            changed_at=utc_now_text(),
            command_id=command_id,
            link=previous.link if previous else {},
        )
        self._save(record, "released")
        log.warning("isolation released by the server (command %s)", command_id)

    # -- break-glass --------------------------------------------------------------------------
    def break_glass(self, reason: str) -> IsolationRecord:
        """``xunjian agent release-isolation``: root on the host lifts the isolation without
        the server (its link is down, or the server is gone). Recorded, with who and why, and
        reported to the server with the next heartbeat that gets through."""
        with self._locked():
            record = self.load()
            if record is None or record.state != "isolated":
                # Rules may exist without a record (a damaged record): remove them anyway.
                self.firewall.remove()
                raise CommandRefused("this host is not isolated (any leftover rules were removed)")
            self.firewall.remove()
            if self.firewall.present():
                raise CommandRefused("the isolation rules are still in place")
            record.state = "released_locally"
            record.changed_at = utc_now_text()
            record.released_by = _local_user()
            record.reason = reason[:ISOLATION_REASON_MAX]
            record.rules = ""
            record.error = ""
            self._save(record, "released_locally")
            log.warning(
                "isolation released LOCALLY by %s (break-glass): %s", record.released_by, reason
            )
            return record


def _local_user() -> str:
    """Who ran the break-glass command: the sudo user behind root when there is one."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
    sudo_user = os.environ.get("SUDO_USER")
    return (f"{user} (sudo by {sudo_user})" if sudo_user else user)[:64]
