"""Ed25519 signing for the long-running agent without the ``cryptography`` package resident.

Importing cryptography's Ed25519 class maps its Rust extension with a statically linked
OpenSSL: about 7.6 MB of the idle agent's resident memory (issue 15, measured with
/proc/self/status around each import), for one operation every heartbeat. The interpreter's
own ``ssl`` module, which the agent needs for HTTPS anyway, has already loaded the system's
libcrypto, and OpenSSL 1.1.1 and later sign Ed25519 (EVP_DigestSign, RFC 8032: the signature
is deterministic, so it equals cryptography's byte for byte; tests/core/test_signing.py holds
them equal). ``signing_key`` returns a key on that library where it is found (Linux with
OpenSSL 3 or 1.1.1), and cryptography's key everywhere else; both have ``sign(data)``.
"""

from __future__ import annotations

import ctypes
import ssl  # noqa: F401  (loads the libcrypto looked for below)
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EVP_PKEY_ED25519 = 1087  # NID_ED25519, the same number in OpenSSL 1.1.1 and 3
SIGNATURE_BYTES = 64


class Signer(Protocol):
    def sign(self, data: bytes) -> bytes: ...


def _loaded_libcrypto() -> Any | None:
    """The libcrypto the ssl module is linked with, opened again by its path (already mapped,
    so it costs no memory), with the functions used here typed; None if it is not found."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        return None
    paths = sorted(
        {
            line.split()[-1]
            for line in maps.read_text().splitlines()
            if "/libcrypto" in line and line.split()[-1].startswith("/")
        }
    )
    # Usually one; a process that also loaded a driver with its own copy (libpq's) has two.
    # Any OpenSSL from 1.1.1 signs Ed25519 the same way, and each is mapped already.
    for path in paths:
        library = _typed(path)
        if library is not None:
            return library
    return None


def _typed(path: str) -> Any | None:
    try:
        library = ctypes.CDLL(path)
        library.EVP_PKEY_new_raw_private_key.restype = ctypes.c_void_p
        library.EVP_PKEY_new_raw_private_key.argtypes = [
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        library.EVP_PKEY_free.argtypes = [ctypes.c_void_p]
        library.EVP_PKEY_get_raw_public_key.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_size_t),
        ]
        library.EVP_MD_CTX_new.restype = ctypes.c_void_p
        library.EVP_MD_CTX_free.argtypes = [ctypes.c_void_p]
        library.EVP_DigestSignInit.argtypes = [ctypes.c_void_p] * 5
        library.EVP_DigestSign.argtypes = [
            ctypes.c_void_p,
            ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_size_t),
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
    except (OSError, AttributeError):
        return None  # not OpenSSL 1.1.1 or later
    return library


class LibcryptoEd25519Key:
    """An Ed25519 private key held by the system's libcrypto (see the module's docstring)."""

    def __init__(self, library: Any, seed: bytes) -> None:
        if len(seed) != 32:
            raise ValueError("an Ed25519 private key is 32 bytes")
        self._library = library
        self._key = library.EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, None, seed, 32)
        if not self._key:
            raise ValueError("libcrypto refused the Ed25519 key")
        # One signature at a time per key: the transport's lock already serialises requests,
        # and the context below is not shared between threads.
        self._lock = threading.Lock()

    def sign(self, data: bytes) -> bytes:
        library = self._library
        with self._lock:
            context = library.EVP_MD_CTX_new()
            if not context:
                raise MemoryError("EVP_MD_CTX_new")
            try:
                if library.EVP_DigestSignInit(context, None, None, None, self._key) != 1:
                    raise ValueError("EVP_DigestSignInit failed")
                signature = ctypes.create_string_buffer(SIGNATURE_BYTES)
                length = ctypes.c_size_t(SIGNATURE_BYTES)
                if (
                    library.EVP_DigestSign(
                        context, signature, ctypes.byref(length), data, len(data)
                    )
                    != 1
                ):
                    raise ValueError("EVP_DigestSign failed")
                return signature.raw[: length.value]
            finally:
                library.EVP_MD_CTX_free(context)

    def public_key(self) -> Ed25519PublicKey:
        """The public half as cryptography's key (for enrollment and tests; imports it)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        raw = ctypes.create_string_buffer(32)
        length = ctypes.c_size_t(32)
        if self._library.EVP_PKEY_get_raw_public_key(self._key, raw, ctypes.byref(length)) != 1:
            raise ValueError("EVP_PKEY_get_raw_public_key failed")
        return Ed25519PublicKey.from_public_bytes(raw.raw[: length.value])

    def __del__(self) -> None:
        key = getattr(self, "_key", None)
        if key:
            self._library.EVP_PKEY_free(key)


_LIBRARY: list[Any] = []  # [library or None] once looked for


def signing_key(seed: bytes) -> Signer:
    """A signing key for the 32-byte Ed25519 seed: on the system's libcrypto when it has one,
    else cryptography's (imported only then)."""
    if not _LIBRARY:
        _LIBRARY.append(_loaded_libcrypto())
    library = _LIBRARY[0]
    if library is not None:
        return LibcryptoEd25519Key(library, seed)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)
