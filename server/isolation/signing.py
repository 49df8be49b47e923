"""The command key: Ed25519, in the data folder (never in the database), created on first use.

``DATA/command-signing.key`` (0600) signs the commands that change a host (isolation);
``DATA/command-signing.pub`` is its public half. Agents get the public key with their
enrollment (or their first heartbeat, if enrolled before it existed) and run an isolation
command only with this key's signature, so a server with another data folder cannot isolate
or release them even where it could answer in this server's name.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.oplog.signing import ensure_ed25519_key
from xunjian.core.wire import public_key_to_text

KEY_NAME = "command-signing.key"
PUBLIC_KEY_NAME = "command-signing.pub"


@cache
def command_signing_key(data_dir: Path) -> Ed25519PrivateKey:
    return ensure_ed25519_key(data_dir, KEY_NAME, PUBLIC_KEY_NAME, "command")


def command_key_text(data_dir: Path) -> str:
    """The public key as agents pin it (base64 of the raw 32 bytes)."""
    return public_key_to_text(command_signing_key(data_dir).public_key())
