"""The vendor-default credential lists, one data file per device type (``credentials/TYPE.txt``;
sources are cited in the files). ``device_credentials_dir`` in config.json may name a folder of
files with the same names that replaces them (an organisation's own list of known defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from server.devices.models import DEVICE_TYPES

BUILT_IN = Path(__file__).with_name("credentials")
MAX_ENTRIES = 100
MAX_FIELD = 64


class CredentialListError(ValueError):
    """A credential list file is missing or malformed; the message names file and line."""


@dataclass(frozen=True)
class Credential:
    user: str
    # Never in a repr, so a log line or traceback that shows the object shows no password.
    password: str = field(repr=False)


def parse_list(text: str, source: str) -> tuple[Credential, ...]:
    found: list[Credential] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        if not sep or not user or len(user) > MAX_FIELD or len(password) > MAX_FIELD:
            raise CredentialListError(f"{source} line {number}: want user:password")
        found.append(Credential(user, password))
    if not found:
        raise CredentialListError(f"{source} lists no credential")
    if len(found) > MAX_ENTRIES:
        raise CredentialListError(f"{source} lists more than {MAX_ENTRIES} credentials")
    return tuple(found)


def credentials_for(device_type: str, folder: str | Path | None = None) -> tuple[Credential, ...]:
    if device_type not in DEVICE_TYPES:
        raise CredentialListError(f"unknown device type {device_type!r}")
    path = (Path(folder) if folder else BUILT_IN) / f"{device_type}.txt"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CredentialListError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_list(text, str(path))
