"""MD4 (RFC 1320), for NT password hashes: NT hash = MD4(UTF-16LE(password)).

OpenSSL 3 moved MD4 to its legacy provider, so ``hashlib.new("md4")`` fails on current Linux
builds (this machine's included) and on Windows Pythons built against OpenSSL 3. MD4 is broken
as a hash; here it only recomputes what Windows itself stores, to compare candidate passwords
with a SAM's hashes without ever trying a logon. Tested against RFC 1320's test suite and the
known NT hash of ``123456`` (tests/windows/test_sam.py). Cost: about 10 µs a candidate.
"""

from __future__ import annotations

import struct

_MASK = 0xFFFFFFFF


def _rotate_left(value: int, count: int) -> int:
    value &= _MASK
    return ((value << count) | (value >> (32 - count))) & _MASK


def _compress(state: list[int], block: bytes) -> None:
    x = struct.unpack("<16I", block)
    a, b, c, d = state

    def f(x_: int, y: int, z: int) -> int:
        return (x_ & y) | (~x_ & z)

    def g(x_: int, y: int, z: int) -> int:
        return (x_ & y) | (x_ & z) | (y & z)

    def h(x_: int, y: int, z: int) -> int:
        return x_ ^ y ^ z

    # Round 1: [abcd k s] a = (a + F(b,c,d) + X[k]) <<< s
    for k in (0, 4, 8, 12):
        a = _rotate_left(a + f(b, c, d) + x[k], 3)
        d = _rotate_left(d + f(a, b, c) + x[k + 1], 7)
        c = _rotate_left(c + f(d, a, b) + x[k + 2], 11)
        b = _rotate_left(b + f(c, d, a) + x[k + 3], 19)
    # Round 2: a = (a + G(b,c,d) + X[k] + 5A827999) <<< s
    for k in (0, 1, 2, 3):
        a = _rotate_left(a + g(b, c, d) + x[k] + 0x5A827999, 3)
        d = _rotate_left(d + g(a, b, c) + x[k + 4] + 0x5A827999, 5)
        c = _rotate_left(c + g(d, a, b) + x[k + 8] + 0x5A827999, 9)
        b = _rotate_left(b + g(c, d, a) + x[k + 12] + 0x5A827999, 13)
    # Round 3: a = (a + H(b,c,d) + X[k] + 6ED9EBA1) <<< s
    for k in (0, 2, 1, 3):
        a = _rotate_left(a + h(b, c, d) + x[k] + 0x6ED9EBA1, 3)
        d = _rotate_left(d + h(a, b, c) + x[k + 8] + 0x6ED9EBA1, 9)
        c = _rotate_left(c + h(d, a, b) + x[k + 4] + 0x6ED9EBA1, 11)
        b = _rotate_left(b + h(c, d, a) + x[k + 12] + 0x6ED9EBA1, 15)
    state[0] = (state[0] + a) & _MASK
    state[1] = (state[1] + b) & _MASK
    state[2] = (state[2] + c) & _MASK
    state[3] = (state[3] + d) & _MASK


def md4(data: bytes) -> bytes:
    """The 16-byte MD4 digest of ``data``."""
    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    bit_length = (len(data) * 8) & 0xFFFFFFFFFFFFFFFF
    padded = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", bit_length)
    for offset in range(0, len(padded), 64):
        _compress(state, padded[offset : offset + 64])
    return struct.pack("<4I", *state)


def nt_hash(password: str) -> bytes:
    """Windows' NT hash of a password: MD4 of its UTF-16LE encoding."""
    return md4(password.encode("utf-16-le"))
