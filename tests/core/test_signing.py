"""The agent's Ed25519 signatures on the system's libcrypto (xunjian/core/signing.py) are
cryptography's byte for byte, verify on the server's side, and keep cryptography out of the
idle agent's memory (issue 15)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xunjian.core import signing, wire


def _library_signer(seed: bytes) -> signing.LibcryptoEd25519Key:
    library = signing._loaded_libcrypto()
    if library is None:
        pytest.skip("no system libcrypto loaded by ssl on this platform")
    return signing.LibcryptoEd25519Key(library, seed)


@pytest.mark.parametrize("size", [0, 1, 64, 100_000])
def test_signatures_equal_cryptography_s(size: int) -> None:
    for _ in range(5):
        seed, message = os.urandom(32), os.urandom(size)
        expected = Ed25519PrivateKey.from_private_bytes(seed).sign(message)
        assert _library_signer(seed).sign(message) == expected


def test_a_signed_request_verifies_with_the_public_key() -> None:
    seed = os.urandom(32)
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
    headers = wire.sign_request(_library_signer(seed), "POST", "/x", "agent", b"body")
    wire.verify_request(public, "POST", "/x", "agent", headers.sent_at, headers.signature, b"body")
    with pytest.raises(wire.SignatureError):
        wire.verify_request(
            public, "POST", "/x", "agent", headers.sent_at, headers.signature, b"other"
        )


def test_a_seed_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        _library_signer(os.urandom(31))


def test_the_idle_agent_signs_without_importing_cryptography(tmp_path) -> None:
    """What ``agent run`` imports, a key read as agent/state.py reads it, one signature."""
    from cryptography.hazmat.primitives import serialization

    _library_signer(os.urandom(32))  # skips where there is no system libcrypto
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "key.pem").write_bytes(pem)
    probe = textwrap.dedent(
        f"""
        import sys
        import agent.cli, agent.service
        from agent.state import _ed25519_from_pkcs8_pem
        signer = _ed25519_from_pkcs8_pem(open({str(tmp_path / "key.pem")!r}, "rb").read())
        sys.stdout.write(signer.sign(b"probe").hex() + "\\n")
        sys.stdout.write(str(sorted(m for m in sys.modules if m.startswith("cryptography"))))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert bytes.fromhex(out[0]) == key.sign(b"probe")
    assert out[1] == "[]"
