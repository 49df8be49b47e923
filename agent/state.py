"""The agent's state folder: identity, pinned CA, tuning, and the last things that happened.

Layout (the folder itself is 0700, because it holds the private key)::

    agent.json   identity and local configuration (written last at enrollment: it marks
                 the agent as enrolled)
    key.pem      the Ed25519 private key, 0600 from the moment it exists
    ca.pem       the server CA pinned at enrollment
    policy.json  the last policy the server sent, so an offline PC keeps scanning by it
    status.json  last report time, last error, last policy version, last spool epoch
    spool.db     the report queue (see ``agent.spool``)

Every write goes through :func:`atomic_write`: a reader (or a crash) sees the old file or the
new one, never half of one.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xunjian.core.signing import Signer, signing_key

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xunjian.core.contract import (
    COMMAND_EVIDENCE,
    COMMAND_ISOLATE,
    COMMAND_RELEASE,
    COMMAND_SCAN_NOW,
    EVIDENCE_CHUNK_MAX_BYTES,
)

CONFIG_NAME = "agent.json"
KEY_NAME = "key.pem"
CA_NAME = "ca.pem"
POLICY_NAME = "policy.json"
STATUS_NAME = "status.json"
SPOOL_NAME = "spool.db"

DIR_MODE = 0o700
SECRET_MODE = 0o600
# The state files are small; a larger one is damage or tampering, not data.
MAX_STATE_FILE_BYTES = 4 * 1024 * 1024

# An evidence snapshot only reads the host and sends to the enrolled server (docs/incidents.md,
# "Evidence"), like a scan; a host that must not send its command lines and logs removes it.
# Isolation is off unless the host's own configuration turns it on: it cuts the host off its
# network, so whoever installs the agent decides, not the server.
DEFAULT_ALLOWED_COMMANDS = (COMMAND_SCAN_NOW, COMMAND_EVIDENCE)
KNOWN_COMMAND_TYPES = (COMMAND_SCAN_NOW, COMMAND_EVIDENCE, COMMAND_ISOLATE, COMMAND_RELEASE)
# An Ed25519 key in PKCS#8 DER is this fixed prefix and the 32-byte seed (RFC 8410). Reading it
# by hand spares the long-running service cryptography's serialization module (~3 MB resident).
_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")
_PEM_BEGIN = b"-----BEGIN PRIVATE KEY-----"
_PEM_END = b"-----END PRIVATE KEY-----"


class StateError(Exception):
    """The state folder is missing, unreadable or inconsistent; the message says what to do."""


def utc_now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; Windows cannot open a directory, and does not need to.
    if os.name == "nt":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = SECRET_MODE) -> None:
    """Write ``data`` to ``path`` so that readers and crashes see the old or the new file.

    The temporary file is created with ``mode`` by ``os.open`` itself, so a secret is never
    readable by others, not even between creation and a later chmod.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        # The umask may have removed bits we asked for; it can never have added any.
        if os.name != "nt":
            os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temporary.unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_json(path: Path, value: Any, mode: int = SECRET_MODE) -> None:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(path, text.encode("utf-8"), mode)


def read_bounded(path: Path, limit: int = MAX_STATE_FILE_BYTES) -> bytes:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise StateError(f"{path} is larger than {limit} bytes; it is damaged")
    return data


def read_json_object(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(read_bounded(path))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise StateError(f"{path} must hold a JSON object")
    return value


def ensure_private_directory(directory: Path) -> None:
    """Create ``directory`` as 0700, or tighten an existing one to 0700."""
    directory.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if os.name != "nt":
        os.chmod(directory, DIR_MODE)


def _positive_number(name: str, value: Any, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise StateError(f"{CONFIG_NAME}: {name} must be a number >= {minimum}, not {value!r}")
    return float(value)


def _ed25519_from_pkcs8_pem(pem: bytes) -> Signer | None:
    """The key from an unencrypted Ed25519 PKCS#8 PEM, or None for any other form."""
    lines = pem.strip().splitlines()
    if len(lines) < 3 or lines[0].strip() != _PEM_BEGIN or lines[-1].strip() != _PEM_END:
        return None
    try:
        der = base64.b64decode(b"".join(line.strip() for line in lines[1:-1]), validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(der) != 48 or not der.startswith(_ED25519_PKCS8_PREFIX):
        return None
    # On the system's libcrypto where there is one: cryptography's stays out of memory.
    return signing_key(der[len(_ED25519_PKCS8_PREFIX) :])


@dataclass
class AgentConfig:
    """``agent.json``: who this agent is, whom it trusts, and local tuning.

    The tuning keys are optional; their defaults suit a PC. Tests set small values
    (``start_delay_max_seconds: 0``, short intervals) to make ``agent run`` act at once.
    """

    server_url: str
    agent_id: str
    group: str
    ca_sha256: str
    enrolled_at: str
    # Local allow list for server commands: the server can ask, only this list decides.
    allowed_commands: list[str] = field(default_factory=lambda: list(DEFAULT_ALLOWED_COMMANDS))
    # The enrolled server's command key (base64 raw Ed25519): isolation commands must carry its
    # signature. Set by enrollment, or by the first heartbeat for an agent enrolled before.
    server_command_key: str | None = None
    # Random delay before the first jobs, so a room of PCs switched on together does not
    # hit the server in the same second.
    start_delay_max_seconds: float = 60.0
    # None: take the interval from the server's policy.
    scan_interval_seconds: float | None = None
    heartbeat_interval_seconds: float | None = None
    # None: a tenth of each job's interval, at most five minutes.
    job_jitter_seconds: float | None = None
    # How often a spool with unsent reports is retried (the backoff decides whether to send).
    flush_interval_seconds: float = 15.0
    backoff_base_seconds: float = 5.0
    backoff_cap_seconds: float = 900.0
    request_timeout_seconds: float = 30.0
    spool_max_rows: int = 1000
    spool_max_bytes: int = 64 * 1024 * 1024
    # Read the host's files under this folder instead of / (tests and demos point it at a
    # prepared host tree); None scans this machine.
    scan_root: str | None = None
    # Scans run in a child process (the service stays small, a hung collector is killed);
    # true runs them inside the service.
    scan_in_process: bool = False
    scan_timeout_seconds: float = 1800.0
    # The file watcher (folders come from the policy): how often its changes are batched into
    # a report, and how often the folders are walked in full to catch what inotify missed.
    watch_interval_seconds: float = 10.0
    watch_rescan_seconds: float = 3600.0
    # Page monitors the server assigns this agent (internal-only sites, agent/monitors): off
    # unless the host's own configuration allows it, because a monitor fetches a page of the
    # inside network and sends it to the server. When off, the agent never asks for them.
    run_monitors: bool = False
    monitor_refresh_seconds: float = 300.0
    monitor_threads: int = 4
    monitor_pending_max_bytes: int = 16 * 1024 * 1024
    # The non-global networks (CIDR) this host's monitors may fetch: the inside sites it is
    # there for, e.g. ["10.0.0.0/8"]. Loopback, private and link-local addresses outside them
    # are refused, cloud metadata addresses always (xunjian/core/probe.py): the server's
    # operator must not reach this host's own services or the cloud's credentials through it.
    monitor_allowed_networks: list[str] = field(default_factory=list)
    # Evidence archives go up in chunks of this many bytes (at most the contract's 1 MiB), and
    # at most evidence_upload_bytes_per_flush bytes each flush (None: all): a PC on a slow
    # link uploads its scene over several flushes instead of filling the link.
    evidence_chunk_bytes: int = EVIDENCE_CHUNK_MAX_BYTES
    evidence_upload_bytes_per_flush: int | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AgentConfig:
        known = {f.name for f in fields(cls)}
        for name in ("server_url", "agent_id", "group", "ca_sha256", "enrolled_at"):
            if not isinstance(raw.get(name), str) or not raw[name]:
                raise StateError(f"{CONFIG_NAME}: {name} is missing or not a string")
        values = {name: value for name, value in raw.items() if name in known}
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if not isinstance(self.allowed_commands, list) or not all(
            isinstance(item, str) for item in self.allowed_commands
        ):
            raise StateError(f"{CONFIG_NAME}: allowed_commands must be a list of strings")
        unknown = [item for item in self.allowed_commands if item not in KNOWN_COMMAND_TYPES]
        if unknown:
            raise StateError(
                f"{CONFIG_NAME}: allowed_commands: unknown {unknown} "
                f"(known: {', '.join(KNOWN_COMMAND_TYPES)})"
            )
        if COMMAND_ISOLATE in self.allowed_commands and (
            COMMAND_RELEASE not in self.allowed_commands
        ):
            # A host the server may isolate but not release would wait for someone at its
            # keyboard: refuse the configuration instead.
            raise StateError(f"{CONFIG_NAME}: allowed_commands with isolate must allow release")
        if self.server_command_key is not None and (
            not isinstance(self.server_command_key, str) or len(self.server_command_key) != 44
        ):
            raise StateError(f"{CONFIG_NAME}: server_command_key must be a base64 Ed25519 key")
        self.start_delay_max_seconds = _positive_number(
            "start_delay_max_seconds", self.start_delay_max_seconds, 0
        )
        for name in ("scan_interval_seconds", "heartbeat_interval_seconds", "job_jitter_seconds"):
            value = getattr(self, name)
            if value is not None:
                minimum = 0 if name == "job_jitter_seconds" else 0.1
                setattr(self, name, _positive_number(name, value, minimum))
        for name in (
            "flush_interval_seconds",
            "backoff_base_seconds",
            "backoff_cap_seconds",
            "request_timeout_seconds",
            "scan_timeout_seconds",
            "watch_interval_seconds",
            "watch_rescan_seconds",
            "monitor_refresh_seconds",
        ):
            setattr(self, name, _positive_number(name, getattr(self, name), 0.01))
        if self.scan_root is not None and (
            not isinstance(self.scan_root, str) or not self.scan_root
        ):
            raise StateError(f"{CONFIG_NAME}: scan_root must be a folder path or null")
        if not isinstance(self.scan_in_process, bool):
            raise StateError(f"{CONFIG_NAME}: scan_in_process must be true or false")
        if not isinstance(self.run_monitors, bool):
            raise StateError(f"{CONFIG_NAME}: run_monitors must be true or false")
        for name in (
            "spool_max_rows",
            "spool_max_bytes",
            "monitor_threads",
            "monitor_pending_max_bytes",
            "evidence_chunk_bytes",
            "evidence_upload_bytes_per_flush",
        ):
            value = getattr(self, name)
            if value is None and name == "evidence_upload_bytes_per_flush":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise StateError(f"{CONFIG_NAME}: {name} must be a whole number >= 1")
        if not isinstance(self.monitor_allowed_networks, list):
            raise StateError(f"{CONFIG_NAME}: monitor_allowed_networks must be a list")
        try:
            if self.monitor_allowed_networks:  # the idle agent need not load the probe
                from xunjian.core.probe import parse_networks

                parse_networks(self.monitor_allowed_networks)
        except ValueError as exc:
            raise StateError(f"{CONFIG_NAME}: monitor_allowed_networks: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AgentState:
    """Paths and typed access to one state folder."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._status_lock = threading.Lock()

    @property
    def config_path(self) -> Path:
        return self.directory / CONFIG_NAME

    @property
    def key_path(self) -> Path:
        return self.directory / KEY_NAME

    @property
    def ca_path(self) -> Path:
        return self.directory / CA_NAME

    @property
    def policy_path(self) -> Path:
        return self.directory / POLICY_NAME

    @property
    def status_path(self) -> Path:
        return self.directory / STATUS_NAME

    @property
    def spool_path(self) -> Path:
        return self.directory / SPOOL_NAME

    @property
    def commands_seen_path(self) -> Path:
        """The ids of the server's commands this agent has taken (agent/runner.py): a command
        delivered again after a restart, before its acknowledgement reached the server, is
        acknowledged and not run twice."""
        return self.directory / "commands-seen.json"

    def load_commands_seen(self) -> list[str]:
        try:
            seen = read_json_object(self.commands_seen_path).get("seen")
        except (FileNotFoundError, StateError):
            return []
        return [item for item in seen if isinstance(item, str)] if isinstance(seen, list) else []

    def save_commands_seen(self, seen: list[str]) -> None:
        write_json(self.commands_seen_path, {"seen": seen})

    @property
    def watch_snapshot_path(self) -> Path:
        """What the file watcher last saw of each watched file (agent/watch/watcher.py)."""
        return self.directory / "watch.db"

    # -- identity -------------------------------------------------------------------------
    def has_identity_files(self) -> bool:
        """Any trace of an identity: enrolling over it would orphan the old one."""
        return self.config_path.exists() or self.key_path.exists()

    def is_enrolled(self) -> bool:
        return self.config_path.is_file() and self.key_path.is_file() and self.ca_path.is_file()

    def write_identity(self, config: AgentConfig, key: Ed25519PrivateKey, ca_pem: bytes) -> None:
        """Store a fresh identity; ``agent.json`` goes last because it marks "enrolled"."""
        from cryptography.hazmat.primitives import serialization

        ensure_private_directory(self.directory)
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        atomic_write(self.key_path, key_pem, SECRET_MODE)
        atomic_write(self.ca_path, ca_pem, SECRET_MODE)
        write_json(self.config_path, config.to_dict(), SECRET_MODE)

    def load_config(self) -> AgentConfig:
        if not self.config_path.is_file():
            raise StateError(
                f"not enrolled: {self.config_path} does not exist (run `xunjian agent enroll`)"
            )
        return AgentConfig.from_dict(read_json_object(self.config_path))

    def load_key(self) -> Signer:
        try:
            pem = read_bounded(self.key_path)
        except FileNotFoundError as exc:
            raise StateError(f"the private key {self.key_path} is missing") from exc
        key = _ed25519_from_pkcs8_pem(pem)
        if key is not None:
            return key
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise StateError(f"the private key {self.key_path} is damaged: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise StateError(f"{self.key_path} is not an Ed25519 key")
        return key

    def load_ca_pem(self) -> bytes:
        try:
            return read_bounded(self.ca_path)
        except FileNotFoundError as exc:
            raise StateError(f"the pinned CA {self.ca_path} is missing") from exc

    # -- policy cache ---------------------------------------------------------------------
    def load_cached_policy(self) -> dict[str, Any] | None:
        try:
            return read_json_object(self.policy_path)
        except (FileNotFoundError, StateError):
            return None

    def save_policy(self, policy: dict[str, Any]) -> None:
        write_json(self.policy_path, policy)

    # -- status ---------------------------------------------------------------------------
    def load_status(self) -> dict[str, Any]:
        try:
            return read_json_object(self.status_path)
        except (FileNotFoundError, StateError):
            return {}

    def update_status(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into ``status.json`` (threads of the runner share this file)."""
        with self._status_lock:
            status = self.load_status()
            status.update(changes)
            status["updated_at"] = utc_now_text()
            write_json(self.status_path, status)
            return status

    def record_error(self, message: str) -> None:
        self.update_status(last_error=message, last_error_at=utc_now_text())
