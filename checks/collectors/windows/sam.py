"""Local accounts, the password policy and weak passwords, read from the SAM and SYSTEM hives.

Offline, or from the copies the live agent saves with RegSaveKey (docs/windows.md). Nothing
here tries a logon: LogonUser would lock accounts and fill the Security log with 4625s.
Weak and default passwords are found the way Windows itself checks them: the account's NT
hash is decrypted from the SAM with the machine's boot key and compared with
MD4(UTF-16LE(candidate)) for the same candidates the Linux check uses
(``checks.collectors.linux.weak_passwords.candidates_for``).

The decryption, as documented by the SAM's published analyses:
- boot key: the class names of SYSTEM ``Control\\Lsa\\{JD,Skew1,GBG,Data}``, 16 bytes, permuted;
- the SAM's own key (``Domains\\Account\\F`` from 0x68): revision 1 (up to Windows 10 1511)
  is RC4 with MD5(salt + QWERTY + boot key + DIGITS) and a checksum that tells whether the boot
  key is this SAM's; revision 2 (Windows 10 1607 and later) is AES-128-CBC;
- each user's NT hash (``Users\\<RID>\\V``): RC4 or AES under the SAM key, then DES with two
  keys made from the RID.
A boot key that does not open the SAM (a SAM without its own SYSTEM) raises BootKeyMismatch:
the check says not_applicable with that reason, never guesses.

Hashes never leave :func:`find_weak_nt_passwords`: not in facts, evidence, logs or the spool.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable

from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4, TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from checks.collectors.linux.weak_passwords import candidates_for
from checks.collectors.windows.hives import Hive, HiveError, filetime
from checks.collectors.windows.md4 import nt_hash
from checks.collectors.windows.registry import RegistrySource, current_control_set
from checks.facts import WeakPassword, WeakPasswords
from checks.facts_windows import LocalAccount, SamPasswordPolicy

ACCOUNT_KEY = "SAM\\Domains\\Account"
BUILTIN_ALIASES = "SAM\\Domains\\Builtin\\Aliases"
ADMINISTRATORS_SID = "S-1-5-32-544"  # the same on every Windows, whatever its language
_ADMINISTRATORS_ALIAS = 0x220
USERS_KEY = "SAM\\Domains\\Account\\Users"
BOOT_KEY_PARTS = ("JD", "Skew1", "GBG", "Data")
_BOOT_KEY_PERMUTATION = (8, 5, 4, 2, 11, 9, 13, 3, 0, 6, 1, 12, 14, 10, 15, 7)
_QWERTY = b"!@#$%^&*()qwertyUIOPAzxcvbnmQQQQQQQQQQQQ)(*@&%\x00"
_DIGITS = b"0123456789012345678901234567890123456789\x00"
_NTPASSWORD = b"NTPASSWORD\x00"

# User account control flags (the F value at 0x38), as [MS-SAMR] 2.2.1.12 names them.
ACB_DISABLED = 0x0001
ACB_PASSWORD_NOT_REQUIRED = 0x0004
ACB_NORMAL = 0x0010
ACB_PASSWORD_NEVER_EXPIRES = 0x0200
ACB_LOCKED = 0x0400

# The V value starts with 0xCC bytes of (offset, length, unused) triples; data follows.
_V_DATA_START = 0xCC
_V_USERNAME = 0x0C
_V_FULL_NAME = 0x18
_V_COMMENT = 0x24
_V_NT_HASH = 0xA8
_SAM_KEY_OFFSET = 0x68
_DOMAIN_PASSWORD_COMPLEX = 0x1


class SamError(Exception):
    """The SAM cannot be read for this purpose; str() is the sentence a check shows."""


class BootKeyMismatch(SamError):
    """The SYSTEM hive's boot key does not open this SAM: they are not from the same PC."""


def _interval_days(value: int) -> int | None:
    """A negative 100 ns interval as days; 'never' (the most negative number, or 0) is None."""
    if value in (0, -(2**63)):
        return None
    return int(abs(value) // (10_000_000 * 86_400))


def _domain_f(sam: RegistrySource) -> bytes:
    account = sam.key(ACCOUNT_KEY)
    data = account.value("F") if account is not None else None
    if not isinstance(data, bytes) or len(data) < _SAM_KEY_OFFSET + 8:
        raise SamError(f"{sam.path}: no account domain (SAM\\Domains\\Account\\F): not a SAM hive")
    return data


def read_password_policy(sam: RegistrySource) -> SamPasswordPolicy:
    f = _domain_f(sam)
    max_age, min_age = struct.unpack_from("<qq", f, 0x18)
    lockout_duration = struct.unpack_from("<q", f, 0x30)[0]
    properties, min_length, history, threshold = struct.unpack_from("<IHHH", f, 0x4C)
    lockout_minutes = (
        None if lockout_duration in (0, -(2**63)) else abs(lockout_duration) // 600_000_000
    )
    return SamPasswordPolicy(
        min_length=min_length,
        complexity=bool(properties & _DOMAIN_PASSWORD_COMPLEX),
        max_age_days=_interval_days(max_age),
        min_age_days=_interval_days(min_age) or 0,
        history=history,
        lockout_threshold=threshold,
        lockout_minutes=lockout_minutes,
    )


def _v_field(v: bytes, entry: int) -> bytes:
    offset, length = struct.unpack_from("<II", v, entry)
    start = _V_DATA_START + offset
    if length == 0 or start + length > len(v):
        return b""
    return v[start : start + length]


def _user_records(sam: RegistrySource) -> list[tuple[int, bytes, bytes]]:
    """(rid, F, V) of every account, by the RID-named keys under Users."""
    users = sam.key(USERS_KEY)
    if users is None:
        raise SamError(f"{sam.path}: no SAM\\Domains\\Account\\Users key: not a SAM hive")
    records = []
    for key in users.subkeys():
        try:
            rid = int(key.name, 16)
        except ValueError:
            continue  # "Names"
        f, v = key.value("F"), key.value("V")
        if isinstance(f, bytes) and isinstance(v, bytes) and len(f) >= 0x44 and len(v) >= 0xCC:
            records.append((rid, f, v))
    return records


def read_accounts(sam: RegistrySource) -> list[LocalAccount]:
    accounts = []
    for rid, f, v in _user_records(sam):
        last_logon, _logoff, password_set = struct.unpack_from("<qqq", f, 0x08)
        control = struct.unpack_from("<I", f, 0x38)[0]
        bad_count, logon_count = struct.unpack_from("<HH", f, 0x40)
        nt_entry = _v_field(v, _V_NT_HASH)
        accounts.append(
            LocalAccount(
                rid=rid,
                name=_v_field(v, _V_USERNAME).decode("utf-16-le", errors="replace"),
                full_name=_v_field(v, _V_FULL_NAME).decode("utf-16-le", errors="replace"),
                comment=_v_field(v, _V_COMMENT).decode("utf-16-le", errors="replace"),
                disabled=bool(control & ACB_DISABLED),
                locked=bool(control & ACB_LOCKED),
                password_not_required=bool(control & ACB_PASSWORD_NOT_REQUIRED),
                password_never_expires=bool(control & ACB_PASSWORD_NEVER_EXPIRES),
                has_password=_holds_hash(nt_entry),
                last_logon=filetime(last_logon),
                password_last_set=filetime(password_set),
                logon_count=logon_count,
                bad_password_count=bad_count,
            )
        )
    return sorted(accounts, key=lambda account: account.rid)


def _holds_hash(entry: bytes) -> bool:
    """Whether a V value's NT-hash entry holds a hash (RC4: 20 bytes; AES: more than 24)."""
    if len(entry) < 4:
        return False
    revision = struct.unpack_from("<H", entry, 2)[0]
    if revision == 1:
        return len(entry) >= 20
    return len(entry) > 24


def sid_text(data: bytes) -> str:
    """A binary SID as ``S-1-5-21-...``."""
    if len(data) < 8:
        raise ValueError("a SID is at least 8 bytes")
    revision, count = data[0], data[1]
    authority = int.from_bytes(data[2:8], "big")
    parts = struct.unpack_from(f"<{count}I", data, 8)
    return "-".join(["S", str(revision), str(authority), *map(str, parts)])


def machine_sid(sam: RegistrySource) -> str:
    """The PC's own SID (local accounts are it plus their RID): the last 24 bytes of the
    account domain's V value."""
    account = sam.key(ACCOUNT_KEY)
    data = account.value("V") if account is not None else None
    if not isinstance(data, bytes) or len(data) < 24 or data[-24:-22] != b"\x01\x04":
        raise SamError(f"{sam.path}: the account domain carries no machine SID")
    return sid_text(data[-24:])


def administrators(sam: RegistrySource) -> list[str]:
    """The SIDs in the built-in Administrators group (S-1-5-32-544), read by its RID, not its
    name: the name is translated ("管理员组" on a Chinese Windows). The alias's C value lists
    its members after a 0x34-byte header: offset at 0x28, count at 0x30."""
    alias = sam.key(f"{BUILTIN_ALIASES}\\{_ADMINISTRATORS_ALIAS:08X}")
    data = alias.value("C") if alias is not None else None
    if not isinstance(data, bytes) or len(data) < 0x34:
        raise SamError(f"{sam.path}: no Administrators group (Builtin\\Aliases\\00000220\\C)")
    offset, _length, count = struct.unpack_from("<III", data, 0x28)
    position = 0x34 + offset
    members = []
    for _ in range(count):
        if position + 8 > len(data):
            raise SamError(f"{sam.path}: the Administrators group's member list is cut short")
        size = 8 + 4 * data[position + 1]
        members.append(sid_text(data[position : position + size]))
        position += size
    return members


def boot_key(system: RegistrySource) -> bytes:
    """The 16-byte boot key from SYSTEM's Lsa class names."""
    lsa = system.key(f"{current_control_set(system)}\\Control\\Lsa")
    if lsa is None:
        raise SamError(f"{system.path}: no Control\\Lsa key: not a SYSTEM hive")
    scrambled = ""
    for part in BOOT_KEY_PARTS:
        key = lsa.subkey(part)
        class_name = key.class_name if key is not None else ""
        if len(class_name) != 8:
            raise SamError(f"{system.path}: Control\\Lsa\\{part} has no boot-key class name")
        scrambled += class_name
    try:
        raw = bytes.fromhex(scrambled)
    except ValueError:
        raise SamError(f"{system.path}: the boot-key class names are not hexadecimal") from None
    return bytes(raw[index] for index in _BOOT_KEY_PERMUTATION)


def _rc4(key: bytes, data: bytes) -> bytes:
    return Cipher(ARC4(key), mode=None).decryptor().update(data)


def _aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    usable = len(data) - len(data) % 16
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return decryptor.update(data[:usable]) + decryptor.finalize()


def sam_key(sam: RegistrySource, key_of_boot: bytes) -> bytes:
    """The SAM's 16-byte key (the 'hashed boot key'); BootKeyMismatch when it does not open."""
    f = _domain_f(sam)
    revision = f[_SAM_KEY_OFFSET]
    if revision == 1:
        salt = f[0x70:0x80]
        encrypted = f[0x80:0xA0]  # key (16) + checksum (16)
        rc4_key = hashlib.md5(salt + _QWERTY + key_of_boot + _DIGITS).digest()
        plain = _rc4(rc4_key, encrypted)
        key, checksum = plain[:16], plain[16:32]
        expected = hashlib.md5(key + _DIGITS + key + _QWERTY).digest()
        if not hmac.compare_digest(checksum, expected):
            raise BootKeyMismatch(
                "the SYSTEM hive's boot key does not open this SAM (its checksum fails): "
                "the two hives are not from the same PC"
            )
        return key
    if revision == 2:
        data_length = struct.unpack_from("<I", f, _SAM_KEY_OFFSET + 12)[0]
        salt = f[_SAM_KEY_OFFSET + 0x10 : _SAM_KEY_OFFSET + 0x20]
        data = f[_SAM_KEY_OFFSET + 0x20 : _SAM_KEY_OFFSET + 0x20 + data_length]
        plain = _aes_cbc_decrypt(key_of_boot, salt, data)
        # The AES form has no checksum that the published analyses agree on; its data is
        # PKCS#7-padded to whole blocks, and a wrong boot key leaves the padding as noise.
        if len(plain) < 16 or not _pkcs7_padded(plain):
            raise BootKeyMismatch(
                "the SYSTEM hive's boot key does not open this SAM (its key data does not "
                "decrypt): the two hives are not from the same PC"
            )
        return plain[:16]
    raise SamError(f"{sam.path}: unknown SAM key revision {revision}")


def _pkcs7_padded(plain: bytes) -> bool:
    pad = plain[-1]
    return 0 < pad <= 16 and len(plain) >= pad and plain[-pad:] == bytes([pad]) * pad


def _des_keys(rid: int) -> tuple[bytes, bytes]:
    r = struct.pack("<I", rid)
    return _expand_des_key(r[0:4] + r[0:3]), _expand_des_key(r[3:4] + r[0:4] + r[0:2])


def _expand_des_key(seven: bytes) -> bytes:
    """7 key bytes as an 8-byte DES key (the low bit of each byte is DES's parity, unused)."""
    bits = int.from_bytes(seven, "big")
    return bytes(((bits >> (49 - 7 * index)) & 0x7F) << 1 for index in range(8))


def _des_decrypt(key: bytes, block: bytes) -> bytes:
    # Single DES is 3DES with the key three times; cryptography keeps only that spelling.
    return Cipher(TripleDES(key * 3), modes.ECB()).decryptor().update(block)


def _decrypt_nt_hash(rid: int, entry: bytes, key: bytes) -> bytes | None:
    """The account's NT hash, or None when it has none. Stays inside this module."""
    if not _holds_hash(entry):
        return None
    revision = struct.unpack_from("<H", entry, 2)[0]
    if revision == 1:
        rc4_key = hashlib.md5(key + struct.pack("<I", rid) + _NTPASSWORD).digest()
        obfuscated = _rc4(rc4_key, entry[4:20])
    else:
        plain = _aes_cbc_decrypt(key, entry[8:24], entry[24:])
        if len(plain) < 16 or (len(plain) > 16 and not _pkcs7_padded(plain)):
            raise BootKeyMismatch(
                f"the hash of account RID {rid} does not decrypt with this SAM's key: "
                "the SAM and SYSTEM hives are not from the same PC"
            )
        obfuscated = plain[:16]
    first, second = _des_keys(rid)
    return _des_decrypt(first, obfuscated[:8]) + _des_decrypt(second, obfuscated[8:16])


def find_weak_nt_passwords(
    sam: RegistrySource, system: RegistrySource, organisation: Iterable[str] = ()
) -> WeakPasswords:
    """Accounts whose NT hash is that of a shipped weak candidate or an organisation word's
    candidate (``organisation_candidates``).

    Disabled accounts are tested too: enabling one again brings its password back.
    """
    key = sam_key(sam, boot_key(system))
    extra = tuple(organisation)
    matches: list[WeakPassword] = []
    tested: list[str] = []
    count = 0
    for rid, _f, v in _user_records(sam):
        name = _v_field(v, _V_USERNAME).decode("utf-16-le", errors="replace")
        stored = _decrypt_nt_hash(rid, _v_field(v, _V_NT_HASH), key)
        if stored is None:
            continue  # no password at all: accounts.empty_password judges that
        tested.append(name)
        candidates = candidates_for(name, extra)
        count = max(count, len(candidates))
        for phrase, kind in candidates:
            if hmac.compare_digest(nt_hash(phrase), stored):
                matches.append(WeakPassword(name, kind))
                break
        del stored
    return WeakPasswords(tuple(matches), tuple(tested), count, ())


def open_pair(sam_path: str, system_path: str) -> tuple[Hive, Hive]:
    """Both hives, or SamError naming the one that is missing or unreadable."""
    from pathlib import Path

    try:
        sam = Hive(Path(sam_path))
    except HiveError as error:
        raise SamError(str(error)) from None
    try:
        system = Hive(Path(system_path))
    except HiveError as error:
        sam.close()
        raise SamError(str(error)) from None
    return sam, system
