"""Public keys in authorized_keys files: who may log in as root and the administrators.

Read from each account's ~/.ssh/authorized_keys and authorized_keys2 (OpenSSH's default
AuthorizedKeysFile); the fingerprint is computed as `ssh-keygen -l` prints it (SHA256 of the
decoded key, base64 without padding), so the organisation's approved list can name keys the
way its administrators see them. Only the type, fingerprint and comment are kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from checks.collectors.linux.accounts import collect_users
from checks.facts import AuthorizedKey
from checks.host import HostContext

KEY_FILES = (".ssh/authorized_keys", ".ssh/authorized_keys2")
_KEY_TYPES_PREFIX = ("ssh-", "ecdsa-", "sk-")


def fingerprint(blob_base64: str) -> str | None:
    try:
        blob = base64.b64decode(blob_base64, validate=True)
    except (binascii.Error, ValueError):
        return None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def parse_authorized_keys(account: str, path: str, text: str) -> list[AuthorizedKey]:
    keys = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        # Options (from="...",command="...") come first when present; the type starts the key.
        start = next((i for i, f in enumerate(fields) if f.startswith(_KEY_TYPES_PREFIX)), None)
        if start is None or start + 1 >= len(fields):
            continue
        found = fingerprint(fields[start + 1])
        if found is None:
            continue
        comment = " ".join(fields[start + 2 :])
        keys.append(AuthorizedKey(account, path, fields[start], found, comment))
    return keys


def collect_authorized_keys(host: HostContext) -> tuple[AuthorizedKey, ...]:
    keys: list[AuthorizedKey] = []
    seen_homes: set[str] = set()
    for user in collect_users(host):
        if not user.home.startswith("/") or user.home in seen_homes or user.home == "/":
            continue
        seen_homes.add(user.home)
        for name in KEY_FILES:
            path = f"{user.home.rstrip('/')}/{name}"
            text = host.read_optional(path)
            if text is not None:
                keys += parse_authorized_keys(user.name, path, text)
    return tuple(keys)
