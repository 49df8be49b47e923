"""Turning a channel's stored settings (a JSON object) into its typed, validated dataclass.

Every notifier declares its settings as a frozen dataclass; ``parse_settings`` checks the
types, refuses unknown keys (a misspelt ``secert`` must not silently turn signing off) and
then the dataclass's own ``validate`` checks meaning. Errors are ``ConfigError`` naming the
setting.

URL policy (one rule for every HTTP channel):

* ``https://`` is always allowed, and the server's certificate is verified (against the
  system's CAs, or the PEM file in ``ca_file`` for an internal CA).
* ``http://`` is refused unless the channel sets ``allow_http: true`` **and** the host is
  written as ``localhost`` or as an IP address that is loopback or private (10/8, 172.16/12,
  192.168/16, fc00::/7, link-local). Robot keys, signatures and alert texts must never cross
  the internet in clear text; a school's internal relay without TLS is the one case allowed,
  and only when someone asked for it. Host *names* are refused over http because what they
  resolve to can change behind our back.
* No user name or password inside the URL, no fragment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar
from urllib.parse import SplitResult, urlsplit

from server.notify.errors import ConfigError

SettingsT = TypeVar("SettingsT")

LANGUAGES = ("zh", "en", "zh+en")
Language = Literal["zh", "en", "zh+en"]


def parse_settings(cls: type[SettingsT], kind: str, raw: Mapping[str, Any]) -> SettingsT:
    """Build ``cls`` (a dataclass) from ``raw``, checking each value against its annotation."""
    if not isinstance(raw, Mapping):
        raise ConfigError(kind, "(settings)", "must be a JSON object")
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(kind, ", ".join(unknown), f"unknown setting; known: {sorted(fields)}")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in raw:
            if (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise ConfigError(kind, name, "is required")
            continue
        values[name] = _coerce(kind, name, hints[name], raw[name])
    settings = cls(**values)
    validate = getattr(settings, "validate", None)
    if validate is not None:
        validate(kind)
    return settings


def _coerce(kind: str, name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [arg for arg in args if arg is not type(None)]
        return _coerce(kind, name, inner, value)
    if origin is Literal:
        if value not in args:
            raise ConfigError(kind, name, f"must be one of {list(args)}, not {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(kind, name, "must be a list of strings")
        return tuple(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(kind, name, "must be true or false")
        return value
    if hint is int:
        # bool is an int in Python; refuse it so ``port: true`` is not port 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(kind, name, "must be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(kind, name, "must be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(kind, name, "must be a string")
        return value
    raise TypeError(f"unsupported settings type {hint!r} for {name}")


def http_allowed_host(host: str) -> bool:
    """True for hosts plain http may reach: localhost, loopback and private addresses."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if address.is_unspecified or address.is_multicast:
        return False
    return address.is_loopback or address.is_private or address.is_link_local


def check_url(kind: str, name: str, url: str, *, allow_http: bool) -> SplitResult:
    """Apply the URL policy above; returns the split URL."""
    if any(ch.isspace() for ch in url):
        raise ConfigError(kind, name, "must not contain spaces or line breaks")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ConfigError(kind, name, f"is not a valid URL ({error})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(kind, name, "must be an https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(kind, name, "must not carry a user name or password")
    if parts.fragment:
        raise ConfigError(kind, name, "must not have a #fragment")
    if port == 0:
        raise ConfigError(kind, name, "has an invalid port")
    if parts.scheme == "http":
        if not allow_http:
            raise ConfigError(
                kind, name, "must use https:// (set allow_http for a private-address relay)"
            )
        if not http_allowed_host(parts.hostname):
            raise ConfigError(
                kind,
                name,
                "http:// is allowed only to localhost or a loopback/private IP address",
            )
    return parts


def describe_url(url: str) -> str:
    """Where a URL points, without the secrets robots keep in its path and query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class HttpSettings:
    """Settings every HTTP channel shares."""

    timeout_seconds: float = 10.0
    ca_file: str | None = None
    allow_http: bool = False
    language: Language = "zh"

    def validate_http(self, kind: str) -> None:
        if not 0 < self.timeout_seconds <= 120:
            raise ConfigError(kind, "timeout_seconds", "must be more than 0 and at most 120")
        if self.ca_file is not None and not self.ca_file.strip():
            raise ConfigError(kind, "ca_file", "must be a path to a PEM file, or absent")
