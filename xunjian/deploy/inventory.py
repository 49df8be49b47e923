"""The inventory: which hosts to deploy to and how to log in, as TOML.

::

    [defaults]                 # optional: any host key except address, for every host
    user = "admin"
    key = "/root/.ssh/xunjian_deploy"
    sudo = true
    group = "lab-301"

    [agent]                    # optional: agent.json tuning for every host
    start_delay_max_seconds = 120
    allowed_commands = ["scan_now", "evidence", "isolate", "release"]  # isolation: off by default

    [[host]]
    address = "10.20.1.21"
    port = 22                  # default 22
    user = "admin"
    key = "/root/.ssh/xunjian_deploy"   # a private key file, or:
    # password_env = "LAB_PASSWORD"     # the name of an environment variable
    # sudo_password_env = "LAB_SUDO"    # sudo's password when logging in with a key
    sudo = true                # log in as an ordinary user and become root with sudo
    group = "lab-301"          # the agent's group on the server
    name = "pc-21"             # optional label in the progress and the summary
    [host.agent]               # optional: tuning for this host only (overrides [agent])

Validation is strict and happens before any host is touched: an unknown key, a bad port, both
``key`` and ``password_env``, an unset environment variable or an unreadable key file is an
:class:`InventoryError` naming the host entry. Secrets never live in the file: passwords come
from environment variables whose names it gives.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST_KEYS = frozenset(
    {
        "address",
        "port",
        "user",
        "key",
        "password_env",
        "sudo_password_env",
        "sudo",
        "group",
        "name",
        "agent",
    }
)
DEFAULT_KEYS = HOST_KEYS - {"address", "name", "agent"}
TOP_KEYS = frozenset({"defaults", "agent", "host"})
# agent.json keys the server's enrollment sets; the inventory may not override them.
IDENTITY_KEYS = frozenset(
    {"server_url", "agent_id", "group", "ca_sha256", "enrolled_at", "server_command_key"}
)
MAX_HOSTS = 10_000
MAX_INVENTORY_BYTES = 4 * 1024 * 1024
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")
_GROUP = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


class InventoryError(Exception):
    """The inventory cannot be used; the message names the file, the entry and the key."""


@dataclass(frozen=True)
class HostEntry:
    """One ``[[host]]`` table, with the defaults applied and environment variables read."""

    index: int
    address: str
    port: int
    user: str
    group: str
    sudo: bool
    key: Path | None = None
    password_env: str | None = None
    sudo_password_env: str | None = None
    name: str | None = None
    agent: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How the host is named in progress lines and the summary."""
        target = self.address if self.port == 22 else f"{self.address}:{self.port}"
        return f"{self.name} ({target})" if self.name else target

    @property
    def known_hosts_name(self) -> str:
        """The host's name in a known_hosts file (OpenSSH's form for a port other than 22)."""
        return self.address if self.port == 22 else f"[{self.address}]:{self.port}"

    def password(self) -> str | None:
        """The login password, read from the environment only when needed (never stored)."""
        return os.environ.get(self.password_env) if self.password_env else None

    def sudo_password(self) -> str | None:
        if self.sudo_password_env:
            return os.environ.get(self.sudo_password_env)
        return self.password()


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: tuple[HostEntry, ...]


def _where(path: Path, index: int | None, address: object = None) -> str:
    if index is None:
        return f"{path}: [defaults]"
    shown = f" ({address})" if isinstance(address, str) and address else ""
    return f"{path}: host #{index}{shown}"


def _check_address(where: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InventoryError(f"{where}: address is required (an IP address or a host name)")
    value = value.strip()
    try:
        ipaddress.ip_address(value.strip("[]"))
        return value.strip("[]")
    except ValueError:
        pass
    if not _HOSTNAME.fullmatch(value):
        raise InventoryError(f"{where}: address {value!r} is not an IP address or a host name")
    return value


def _check_port(where: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InventoryError(f"{where}: port must be a whole number 1..65535, not {value!r}")
    return value


def _check_string(where: str, key: str, value: object, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InventoryError(f"{where}: {key} must be {what}, not {value!r:.80}")
    return value


def _check_env(where: str, key: str, value: object) -> str:
    name = _check_string(where, key, value, _ENV_NAME, "the name of an environment variable")
    if os.environ.get(name) is None:
        raise InventoryError(
            f"{where}: {key} names the environment variable {name}, which is not set; "
            f"export it before running the command (the password never goes in the file)"
        )
    return name


def _check_key_file(where: str, value: object, base: Path) -> Path:
    if not isinstance(value, str) or not value:
        raise InventoryError(f"{where}: key must be the path of a private key file")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise InventoryError(f"{where}: cannot read the key file {path}: {exc.strerror}") from exc
    return path


def check_agent_settings(where: str, value: object) -> dict[str, Any]:
    """agent.json tuning from ``[agent]`` or ``[host.agent]``: known keys with valid values."""
    from agent.state import AgentConfig, StateError

    if not isinstance(value, dict):
        raise InventoryError(f"{where}: agent must be a table of agent.json settings")
    known = {name for name in AgentConfig.__dataclass_fields__ if name not in IDENTITY_KEYS}
    for key in value:
        if key not in known:
            raise InventoryError(
                f"{where}: agent.{key} is not an agent setting "
                f"(allowed: {', '.join(sorted(known))})"
            )
    try:
        AgentConfig.from_dict(
            {
                "server_url": "https://placeholder",
                "agent_id": "placeholder",
                "group": "placeholder",
                "ca_sha256": "0" * 64,
                "enrolled_at": "placeholder",
                **value,
            }
        )
    except (StateError, TypeError) as exc:
        raise InventoryError(f"{where}: agent settings: {exc}") from exc
    return dict(value)


def _check_keys(where: str, table: Mapping[str, Any], allowed: frozenset[str]) -> None:
    for key in table:
        if key not in allowed:
            raise InventoryError(
                f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})"
            )


def _host(
    path: Path,
    index: int,
    raw: object,
    defaults: Mapping[str, Any],
    agent_defaults: Mapping[str, Any],
) -> HostEntry:
    if not isinstance(raw, dict):
        raise InventoryError(f"{path}: host #{index} must be a [[host]] table")
    where = _where(path, index, raw.get("address"))
    _check_keys(where, raw, HOST_KEYS)
    merged = {**defaults, **raw}
    # A host that sets one way of logging in replaces the default's other way.
    if "key" in raw and "password_env" not in raw:
        merged.pop("password_env", None)
    if "password_env" in raw and "key" not in raw:
        merged.pop("key", None)
    address = _check_address(where, merged.get("address"))
    port = _check_port(where, merged.get("port", 22))
    if "user" not in merged:
        raise InventoryError(f"{where}: user is required (the account to log in with)")
    user = _check_string(where, "user", merged["user"], _USER, "a login name")
    has_key, has_password = "key" in merged, "password_env" in merged
    if has_key and has_password:
        raise InventoryError(f"{where}: give either key or password_env, not both")
    if not has_key and not has_password:
        raise InventoryError(f"{where}: give key (a private key file) or password_env")
    key = _check_key_file(where, merged["key"], path.parent) if has_key else None
    password_env = None
    if has_password:
        password_env = _check_env(where, "password_env", merged["password_env"])
    sudo_password_env = None
    if "sudo_password_env" in merged:
        sudo_password_env = _check_env(where, "sudo_password_env", merged["sudo_password_env"])
    sudo = merged.get("sudo", False)
    if not isinstance(sudo, bool):
        raise InventoryError(f"{where}: sudo must be true or false, not {sudo!r}")
    if sudo and user == "root":
        sudo = False  # root needs no sudo; allowed so one [defaults] fits both kinds of hosts
    group = _check_string(
        where, "group", merged.get("group", "default"), _GROUP, "1..64 letters, digits, _ . -"
    )
    name = None
    if "name" in merged:
        name = _check_string(where, "name", merged["name"], _NAME, "a label of 1..64 characters")
    agent = dict(agent_defaults)
    if "agent" in raw:
        agent.update(check_agent_settings(where, raw["agent"]))
    return HostEntry(
        index=index,
        address=address,
        port=port,
        user=user,
        group=group,
        sudo=sudo,
        key=key,
        password_env=password_env,
        sudo_password_env=sudo_password_env,
        name=name,
        agent=agent,
    )


def parse_inventory(text: str, path: Path) -> Inventory:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(f"{path}: not valid TOML: {exc}") from exc
    _check_keys(f"{path}: top level", document, TOP_KEYS)
    defaults = document.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InventoryError(f"{path}: [defaults] must be a table")
    _check_keys(_where(path, None), defaults, DEFAULT_KEYS)
    agent_defaults = check_agent_settings(f"{path}: [agent]", document.get("agent", {}))
    hosts = document.get("host", [])
    if not isinstance(hosts, list) or not hosts:
        raise InventoryError(f"{path}: no hosts; add [[host]] tables with at least an address")
    if len(hosts) > MAX_HOSTS:
        raise InventoryError(f"{path}: {len(hosts)} hosts; at most {MAX_HOSTS} per inventory")
    entries = tuple(
        _host(path, index, raw, defaults, agent_defaults) for index, raw in enumerate(hosts, 1)
    )
    seen: dict[tuple[str, int], int] = {}
    for entry in entries:
        first = seen.setdefault((entry.address.lower(), entry.port), entry.index)
        if first != entry.index:
            raise InventoryError(
                f"{_where(path, entry.index, entry.address)}: the same address and port as "
                f"host #{first}"
            )
    return Inventory(path=path, hosts=entries)


def load_inventory(path: Path) -> Inventory:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_INVENTORY_BYTES + 1)
    except OSError as exc:
        raise InventoryError(f"cannot read the inventory {path}: {exc.strerror}") from exc
    if len(data) > MAX_INVENTORY_BYTES:
        raise InventoryError(f"{path}: larger than {MAX_INVENTORY_BYTES} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{path}: not UTF-8 text: {exc}") from exc
    return parse_inventory(text, path)
