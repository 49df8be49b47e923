"""SAM and SYSTEM hives whose accounts have passwords we know, built at test time.

The inverse of checks/collectors/windows/sam.py, written from the same published description of
the format, and laid out like the real SAM in ../shared/windows-hives (tests/windows/test_sam.py
reads that one first with the same offsets): the account domain's F value with the SAM key at
0x68 (revision 1: RC4 with an MD5 checksum; revision 2: AES-128-CBC, PKCS#7-padded), each
account's F (times, RID, flags) and V (0xCC bytes of offset/length triples, then the name and
the encrypted NT hash). The hives themselves are made by tests/windows/hivebuild.py (hivex).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from checks.collectors.windows.md4 import nt_hash
from checks.collectors.windows.sam import (
    _BOOT_KEY_PERMUTATION,
    _DIGITS,
    _NTPASSWORD,
    _QWERTY,
    ACB_DISABLED,
    ACB_NORMAL,
    ACB_PASSWORD_NEVER_EXPIRES,
    ACB_PASSWORD_NOT_REQUIRED,
    _des_keys,
)
from tests.windows.hivebuild import build_hive

SYSTEM_PREFIX = "HKEY_LOCAL_MACHINE\\SYSTEM"
SAM_PREFIX = "HKEY_LOCAL_MACHINE\\SAM"
_FILETIME_EPOCH = datetime.datetime(1601, 1, 1, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class PlantedAccount:
    rid: int
    name: str
    password: str | None  # None: no password at all
    flags: int = ACB_NORMAL
    last_logon: datetime.datetime | None = None
    password_last_set: datetime.datetime | None = None


@dataclass(frozen=True)
class PlantedPolicy:
    min_length: int = 0
    complexity: bool = False
    max_age_days: int | None = 42
    history: int = 0
    lockout_threshold: int = 0


def _filetime(moment: datetime.datetime | None) -> int:
    if moment is None:
        return 0
    return int((moment - _FILETIME_EPOCH).total_seconds() * 10_000_000)


def _hex(data: bytes) -> str:
    return ",".join(f"{byte:02x}" for byte in data)


def _scrambled_class_names(boot_key: bytes) -> dict[str, str]:
    """The four Lsa class names that give ``boot_key`` once permuted."""
    scrambled = bytearray(16)
    for index, source in enumerate(_BOOT_KEY_PERMUTATION):
        scrambled[source] = boot_key[index]
    text = scrambled.hex()
    lsa = "ControlSet001\\Control\\Lsa\\"
    return {
        lsa + part: text[8 * i : 8 * i + 8] for i, part in enumerate(("JD", "Skew1", "GBG", "Data"))
    }


def build_system(out: Path, boot_key: bytes, extra_reg: str = "") -> Path:
    reg = f'[{SYSTEM_PREFIX}\\Select]\n"Current"=dword:00000001\n"Default"=dword:00000001\n'
    return build_hive(
        out,
        reg + extra_reg,
        prefix=SYSTEM_PREFIX,
        class_names=_scrambled_class_names(boot_key),
    )


def _aes_encrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    pad = 16 - len(data) % 16
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()


def _des_encrypt(key: bytes, block: bytes) -> bytes:
    return Cipher(TripleDES(key * 3), modes.ECB()).encryptor().update(block)


def _domain_f(boot_key: bytes, sam_key: bytes, revision: int, policy: PlantedPolicy) -> bytes:
    f = bytearray(0x68)
    struct.pack_into("<I", f, 0x00, 2)
    max_age = -(2**63) if policy.max_age_days is None else -policy.max_age_days * 864_000_000_000
    struct.pack_into("<qq", f, 0x18, max_age, 0)
    struct.pack_into("<q", f, 0x30, -30 * 600_000_000)  # lockout duration: 30 minutes
    struct.pack_into("<I", f, 0x48, 1001)  # next RID
    struct.pack_into(
        "<IHHH",
        f,
        0x4C,
        1 if policy.complexity else 0,
        policy.min_length,
        policy.history,
        policy.lockout_threshold,
    )
    salt = os.urandom(16)
    if revision == 1:
        rc4_key = hashlib.md5(salt + _QWERTY + boot_key + _DIGITS).digest()
        checksum = hashlib.md5(sam_key + _DIGITS + sam_key + _QWERTY).digest()
        encrypted = Cipher(ARC4(rc4_key), mode=None).encryptor().update(sam_key + checksum)
        key_data = struct.pack("<II", 1, 0x38) + salt + encrypted + bytes(8)
    else:
        data = _aes_encrypt(boot_key, salt, sam_key)
        key_data = struct.pack("<IIII", 2, 0x10 + 16 + len(data), 0x10, len(data)) + salt + data
        key_data += bytes(16)  # the checksum the reader does not rely on
    return bytes(f) + key_data + bytes(max(0, 240 - 0x68 - len(key_data)))


def _nt_entry(rid: int, password: str | None, sam_key: bytes, revision: int) -> bytes:
    if revision == 1:
        if password is None:
            return struct.pack("<HH", 3, 1)
        first, second = _des_keys(rid)
        digest = nt_hash(password)
        obfuscated = _des_encrypt(first, digest[:8]) + _des_encrypt(second, digest[8:])
        rc4_key = hashlib.md5(sam_key + struct.pack("<I", rid) + _NTPASSWORD).digest()
        return struct.pack("<HH", 3, 1) + Cipher(ARC4(rc4_key), mode=None).encryptor().update(
            obfuscated
        )
    salt = os.urandom(16)
    if password is None:
        return struct.pack("<HHI", 3, 2, 0x10) + salt
    first, second = _des_keys(rid)
    digest = nt_hash(password)
    obfuscated = _des_encrypt(first, digest[:8]) + _des_encrypt(second, digest[8:])
    return struct.pack("<HHI", 3, 2, 0x10) + salt + _aes_encrypt(sam_key, salt, obfuscated)


def _user_v(account: PlantedAccount, nt_entry: bytes) -> bytes:
    fields = {0x0C: account.name.encode("utf-16-le"), 0xA8: nt_entry}
    header = bytearray(0xCC)
    data = bytearray()
    for entry in range(0, 0xCC, 12):
        content = fields.get(entry, b"")
        struct.pack_into("<III", header, entry, len(data), len(content), 0)
        data += content + bytes(-len(content) % 4)
    return bytes(header + data)


def _user_f(account: PlantedAccount) -> bytes:
    f = bytearray(0x50)
    struct.pack_into("<I", f, 0x00, 0x00010002)
    struct.pack_into("<q", f, 0x08, _filetime(account.last_logon))
    struct.pack_into("<q", f, 0x18, _filetime(account.password_last_set))
    struct.pack_into("<q", f, 0x20, 0x7FFFFFFFFFFFFFFF)  # account never expires
    struct.pack_into("<III", f, 0x30, account.rid, 513, account.flags)
    return bytes(f)


def _sid(authority: int, *parts: int) -> bytes:
    head = bytes([1, len(parts)]) + authority.to_bytes(6, "big")
    return head + struct.pack(f"<{len(parts)}I", *parts)


MACHINE = (21, 3_000_000_001, 3_000_000_002, 3_000_000_003)


def _alias_c(name: str, members: list[bytes]) -> bytes:
    """An alias's C value: 0x34-byte header of offsets (from 0x34), then name and members."""
    encoded = name.encode("utf-16-le")
    member_data = b"".join(members)
    header = bytearray(0x34)
    struct.pack_into("<I", header, 0x00, 0x220)
    struct.pack_into("<II", header, 0x10, 0, len(encoded))
    struct.pack_into("<III", header, 0x28, len(encoded), len(member_data), len(members))
    return bytes(header) + encoded + member_data


def build_sam(
    out: Path,
    boot_key: bytes,
    accounts: list[PlantedAccount],
    *,
    revision: int = 2,
    policy: PlantedPolicy | None = None,
    administrators: list[int] | None = None,
    administrators_name: str = "Administrators",
) -> Path:
    """``administrators``: the RIDs in the Administrators group (default: 500 only)."""
    sam_key = os.urandom(16)
    account_key = f"{SAM_PREFIX}\\SAM\\Domains\\Account"
    domain = _domain_f(boot_key, sam_key, revision, policy or PlantedPolicy())
    domain_v = bytes(0x40) + _sid(5, *MACHINE)
    members = [_sid(5, *MACHINE, rid) for rid in (administrators or [500])]
    reg = (
        f'[{account_key}]\n"F"=hex:{_hex(domain)}\n"V"=hex:{_hex(domain_v)}\n'
        f"\n[{SAM_PREFIX}\\SAM\\Domains\\Builtin\\Aliases\\00000220]\n"
        f'"C"=hex:{_hex(_alias_c(administrators_name, members))}\n'
    )
    for account in accounts:
        entry = _nt_entry(account.rid, account.password, sam_key, revision)
        reg += (
            f"\n[{account_key}\\Users\\{account.rid:08X}]\n"
            f'"F"=hex:{_hex(_user_f(account))}\n"V"=hex:{_hex(_user_v(account, entry))}\n'
            f"\n[{account_key}\\Users\\Names\\{account.name}]\n@=hex({account.rid:x}):\n"
        )
    return build_hive(out, reg, prefix=SAM_PREFIX)


def machine_sid_text() -> str:
    return "S-1-5-" + "-".join(map(str, MACHINE))


# A typical PC's accounts (RIDs as Windows hands them out).
BUILTIN_ADMINISTRATOR = PlantedAccount(
    500, "Administrator", None, ACB_NORMAL | ACB_DISABLED | ACB_PASSWORD_NEVER_EXPIRES
)
BUILTIN_GUEST = PlantedAccount(
    501,
    "Guest",
    None,
    ACB_NORMAL | ACB_DISABLED | ACB_PASSWORD_NOT_REQUIRED | ACB_PASSWORD_NEVER_EXPIRES,
)
