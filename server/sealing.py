"""Secrets kept at rest in the database, encrypted with a key only the server's data folder has.

One Fernet key per purpose, derived by HKDF-SHA256 from DATA/secret-key (mode 0600): a database
dump or backup alone does not reveal the secrets, and a key leaked for one purpose opens nothing
sealed for another. The ``purpose`` is HKDF's ``info``; it is part of the key, so a purpose's
string never changes once values are sealed with it (a new scheme takes a new string).

Whoever restores a backup needs DATA/secret-key with it (docs/operations.md): without the same
key, ``unseal`` returns None and the value must be entered again.
"""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.config import read_secret_key


class Sealer:
    """Seals and opens text for one purpose. The key is derived once, at construction, so a
    caller opening many values (every channel on a reload) reads the key file once."""

    def __init__(self, data: Path, purpose: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
            read_secret_key(data)
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def unseal(self, sealed: str) -> str | None:
        """The text, or None if it cannot be decrypted (another secret key, or not a token)."""
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            return None
