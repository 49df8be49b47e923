"""Which accounts still accept a vendor default or common weak password.

Each candidate is hashed with the account's own salt and scheme by the system's crypt library
(libxcrypt, through ctypes: Python 3.13 has no `crypt` module), so yescrypt, sha512-crypt and
every other scheme the host itself accepts are verified the way login verifies them.
Hashes and candidates stay inside this module: the fact names accounts and a kind only.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import datetime
import functools
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from checks.collectors.linux.accounts import classify_shadow_password
from checks.errors import NotApplicable
from checks.facts import PasswordState, WeakPassword, WeakPasswords
from checks.host import HostContext
from checks.messages import said

# Factory passwords of devices, images and appliances found in schools and offices.
VENDOR_DEFAULTS: tuple[str, ...] = (
    "admin",
    "root",
    "toor",
    "password",
    "changeme",
    "default",
    "guest",
    "raspberry",
    "vagrant",
    "ubuntu",
    "debian",
    "centos",
    "kali",
    "oracle",
    "Huawei@123",
    "Admin@huawei",
    "Changeme_123",
    "admin@123",
    "Admin@123",
    "admin123",
    "h3capadmin",
    "ruijie",
    "1234",
    "12345",
)
# Passwords at the top of every published leak, Chinese ones included.
COMMON_WEAK: tuple[str, ...] = (
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "111111",
    "000000",
    "666666",
    "888888",
    "88888888",
    "123123",
    "5201314",
    "woaini1314",
    "a123456",
    "Aa123456",
    "abc123",
    "abc@123",
    "Abc@123",
    "qwerty",
    "qwe123",
    "Qwer1234",
    "1qaz2wsx",
    "1qaz@WSX",
    "Passw0rd",
    "P@ssw0rd",
    "P@ssword",
    "password1",
    "password123",
    "Password",
    "welcome",
    "letmein",
    "iloveyou",
    "test",
    "test123",
)
NAME_VARIANTS = ("{name}", "{name}123", "{name}@123")
# An organisation's own words (school name, its pinyin and abbreviation, "admin", "teacher")
# in the forms people build passwords from: yizhong2024, Yizhong@123, school123...
ORGANISATION_SUFFIXES = ("", "123", "@123", "123456", "!", "@")
ORGANISATION_YEAR_JOINERS = ("", "@")
MAX_ORGANISATION_WORDS = 20
# Each word gives up to 3 forms x (6 + 2 x 4 years) = 42 candidates; on Linux every candidate
# is a real crypt() of the account's scheme, so the count is bounded.
# libxcrypt's struct crypt_data is 32 KiB; glibc's old one 128 KiB. Room for either.
_CRYPT_DATA_BYTES = 256 * 1024


class CryptLibrary:
    """crypt_rn (libxcrypt) or crypt_r (glibc) from the system's libcrypt."""

    def __init__(self) -> None:
        name = ctypes.util.find_library("crypt") or "libcrypt.so.1"
        try:
            self._lib = ctypes.CDLL(name)
        except OSError as exc:
            raise NotApplicable(
                f"the system crypt library ({name}) cannot be loaded to verify passwords"
            ) from exc
        self._rn = getattr(self._lib, "crypt_rn", None)
        if self._rn is not None:
            self._rn.restype = ctypes.c_char_p
            self._rn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int]
        self._r = self._lib.crypt_r
        self._r.restype = ctypes.c_char_p
        self._r.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]

    def hash(self, phrase: str, setting: str) -> bytes | None:
        """The hash of phrase with setting's scheme and salt; None when the scheme is unknown."""
        data = ctypes.create_string_buffer(_CRYPT_DATA_BYTES)
        try:
            if self._rn is not None:
                out = self._rn(phrase.encode(), setting.encode(), data, _CRYPT_DATA_BYTES)
            else:
                out = self._r(phrase.encode(), setting.encode(), data)
            # libxcrypt returns a string starting with "*" (or NULL from crypt_rn) on failure.
            return None if not out or out.startswith(b"*") else bytes(out)
        finally:
            # The buffer held the phrase's intermediate state; do not leave it in memory.
            ctypes.memset(data, 0, _CRYPT_DATA_BYTES)

    def verify(self, phrase: str, stored: str) -> bool | None:
        computed = self.hash(phrase, stored)
        if computed is None:
            return None
        return hmac.compare_digest(computed, stored.encode())


@functools.cache
def crypt_library() -> CryptLibrary:
    return CryptLibrary()


def organisation_candidates(words: Sequence[str], year: int) -> list[str]:
    """The usual passwords built from the organisation's words around the given year."""
    years = [str(y) for y in range(year - 2, year + 2)]
    candidates: list[str] = []
    for word in list(dict.fromkeys(w.strip() for w in words if w.strip()))[:MAX_ORGANISATION_WORDS]:
        for form in dict.fromkeys((word, word.lower(), word[:1].upper() + word[1:].lower())):
            candidates += [form + suffix for suffix in ORGANISATION_SUFFIXES]
            candidates += [form + joiner + y for y in years for joiner in ORGANISATION_YEAR_JOINERS]
    return list(dict.fromkeys(candidates))


def organisation_key(words: Sequence[str]) -> str:
    """The fact key of a set of organisation words (the weak-password fact depends on them)."""
    return "\n".join(dict.fromkeys(w.strip() for w in words if w.strip()))


def candidates_for(account: str, organisation: Sequence[str] = ()) -> list[tuple[str, str]]:
    """Every candidate once, the most often found first, so a weak account stops early.

    The account's own name ("teacher123") is what audits of school servers find most; then the
    top of the leak lists, then factory defaults, then the organisation's words.
    """
    listed = [(v.format(name=account), "same as the account name") for v in NAME_VARIANTS]
    listed += [(p, "common weak") for p in COMMON_WEAK]
    listed += [(p, "vendor default") for p in VENDOR_DEFAULTS]
    listed += [(p, "organisation word") for p in organisation]
    seen: set[str] = set()
    unique = []
    for phrase, kind in listed:
        if phrase not in seen:
            seen.add(phrase)
            unique.append((phrase, kind))
    return unique


# A verdict that could not be computed (the scheme is unknown here).
_UNSUPPORTED = "\0unsupported"
# A verdict so far: the first N candidates were tried and none matched ("\0partial:N").
_PARTIAL = "\0partial:"
# Schemes built to be slow (yescrypt, gost-yescrypt, scrypt, bcrypt): tens of milliseconds and
# megabytes a candidate. sha512-crypt and older take about a millisecond and are always tried
# in full.
SLOW_PREFIXES = ("$y$", "$gy$", "$7$", "$2b$", "$2a$", "$2y$")
# How many slow candidates an agent's scan tries, over all accounts together, when its state
# folder lets the next scan go on where this one stopped: ten yescrypt accounts get their ten
# likeliest candidates each in the first scan (about 2 s of CPU on each of two cores here,
# docs/PERFORMANCE.md), and every candidate within six scans.
SLOW_CANDIDATES_PER_SCAN = 100


def _verdict(
    library: CryptLibrary,
    name: str,
    stored: str,
    organisation: Sequence[str],
    start: int = 0,
    count: int | None = None,
) -> str | None:
    """The kind of the first candidate the hash accepts among candidates [start, start+count),
    None when none does and that was the last; "\0partial:N" when N were tried so far."""
    listed = candidates_for(name, organisation)
    end = len(listed) if count is None else min(len(listed), start + count)
    for phrase, kind in listed[start:end]:
        verified = library.verify(phrase, stored)
        if verified is None:
            return _UNSUPPORTED
        if verified:
            return kind
    return None if end >= len(listed) else f"{_PARTIAL}{end}"


def _shares(starts: dict[str, int], totals: dict[str, int], budget: int) -> dict[str, int]:
    """Split budget over accounts by candidate rank, so each gets its likeliest ones first:
    round by round, every account not yet done takes its next candidate."""
    shares = dict.fromkeys(starts, 0)
    while budget > 0:
        open_accounts = [a for a in starts if starts[a] + shares[a] < totals[a]]
        if not open_accounts:
            break
        for account in open_accounts[:budget]:
            shares[account] += 1
        budget -= min(budget, len(open_accounts))
    return shares


class VerdictCache:
    """Verdicts of earlier scans, so an unchanged hash is not tested again.

    Keyed by a digest of the account, its hash and the candidate list (new organisation words
    or a new product list test again); the file never holds a hash or a candidate. It lives in
    the agent's state folder (HostContext.cache), readable by the agent only.
    """

    FILE_NAME = "weak-password-verdicts.json"

    def __init__(self, folder: Path | None) -> None:
        self._path = folder / self.FILE_NAME if folder is not None else None
        self._old: dict[str, str] = {}
        self.new: dict[str, str] = {}
        if self._path is not None:
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(self._path.read_text())
                if isinstance(loaded, dict):
                    self._old = {str(k): str(v) for k, v in loaded.items()}

    @staticmethod
    def key(name: str, stored: str, organisation: Sequence[str]) -> str:
        listed = "\0".join(p for p, _ in candidates_for(name, organisation))
        return hashlib.sha256(f"{name}\0{stored}\0{listed}".encode()).hexdigest()

    def get(self, key: str) -> str | None:
        return self._old.get(key)

    def save(self) -> None:
        # Only this scan's verdicts are kept: a changed or deleted account's entry goes.
        if self._path is None or self.new == self._old:
            return
        with contextlib.suppress(OSError):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            partial = self._path.with_suffix(".tmp")
            partial.write_text(json.dumps(self.new, sort_keys=True))
            partial.chmod(0o600)
            partial.replace(self._path)


def _hashed_entries(texts: Sequence[str]) -> list[tuple[str, str]]:
    """(account, hash) from shadow-style lines, the first file naming an account winning."""
    entries: dict[str, str] = {}
    for text in texts:
        for raw in text.splitlines():
            fields = raw.strip().split(":")
            if len(fields) < 2 or not fields[0] or raw.startswith("#") or fields[0] in entries:
                continue
            state, _scheme = classify_shadow_password(fields[1])
            if state is PasswordState.HASHED:
                entries[fields[0]] = fields[1]
    return list(entries.items())


def find_weak_passwords(
    shadow_text: str,
    library: CryptLibrary,
    organisation: Sequence[str] = (),
    cache: VerdictCache | None = None,
    passwd_text: str = "",
    slow_budget: int | None = None,
) -> WeakPasswords:
    """Test each hashed account; accounts run on every core (libcrypt releases the GIL).

    With slow_budget, accounts with a slow scheme together try at most that many candidates,
    each from where the remembered verdict stopped; None tries every candidate now.
    """
    cache = cache if cache is not None else VerdictCache(None)
    # A hash in /etc/passwd (after pwunconv) is tested like one in shadow.
    entries = _hashed_entries([shadow_text, passwd_text])
    keys = [VerdictCache.key(name, stored, organisation) for name, stored in entries]
    totals = {name: len(candidates_for(name, organisation)) for name, _ in entries}
    verdicts: dict[str, str | None] = {}
    todo: list[tuple[str, str, int]] = []
    for (name, stored), key in zip(entries, keys, strict=True):
        remembered = cache.get(key)
        if remembered is not None and not remembered.startswith(_PARTIAL):
            verdicts[name] = remembered or None
        else:
            start = int(remembered.removeprefix(_PARTIAL)) if remembered else 0
            todo.append((name, stored, start))
    counts: dict[str, int | None] = dict.fromkeys((name for name, _, _ in todo), None)
    slow = {name: start for name, stored, start in todo if stored.startswith(SLOW_PREFIXES)}
    if slow_budget is not None and slow:
        counts.update(_shares(slow, totals, slow_budget))
    if todo:
        workers = max(1, min(len(todo), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = pool.map(
                lambda e: _verdict(library, e[0], e[1], organisation, e[2], counts[e[0]]), todo
            )
            verdicts.update(zip((name for name, _, _ in todo), found, strict=True))
    for (name, _stored), key in zip(entries, keys, strict=True):
        cache.new[key] = verdicts[name] or ""
    cache.save()
    matches = [
        WeakPassword(name, kind)
        for name, _ in entries
        if (kind := verdicts[name]) is not None and not kind.startswith("\0")
    ]
    unsupported = [name for name, _ in entries if verdicts[name] == _UNSUPPORTED]
    incomplete = [
        (name, int(verdict.removeprefix(_PARTIAL)))
        for name, _ in entries
        if (verdict := verdicts[name]) is not None and verdict.startswith(_PARTIAL)
    ]
    count = max(totals.values(), default=0)
    return WeakPasswords(
        tuple(matches),
        tuple(name for name, _ in entries),
        count,
        tuple(unsupported),
        tuple(incomplete),
    )


def collect_weak_passwords(host: HostContext, organisation_key_: str = "") -> WeakPasswords:
    """Keyed by the organisation's words (organisation_key), expanded around this year."""
    shadow = host.read_optional("/etc/shadow")
    passwd = host.read_optional("/etc/passwd") or ""
    if shadow is None and not _hashed_entries([passwd]):
        raise said(NotApplicable, "facts.no_password_hashes")
    words = organisation_key_.split("\n") if organisation_key_ else []
    year = datetime.datetime.now(datetime.UTC).year
    return find_weak_passwords(
        shadow or "",
        crypt_library(),
        organisation_candidates(words, year),
        VerdictCache(host.cache),
        passwd,
        # Only an agent, whose state folder keeps where this scan stopped, spreads the work.
        slow_budget=SLOW_CANDIDATES_PER_SCAN if host.cache is not None else None,
    )
