"""Users, groups and shadow entries from /etc/passwd, /etc/group and /etc/shadow."""

from __future__ import annotations

import re

from checks.errors import CollectError, NotApplicable
from checks.facts import GroupEntry, PasswordState, ShadowEntry, UserAccount
from checks.host import HostContext
from checks.messages import said

# crypt(5) scheme prefixes, by the id between the first two "$".
_HASH_SCHEMES = {
    "1": "md5",
    "2a": "bcrypt",
    "2b": "bcrypt",
    "2x": "bcrypt",
    "2y": "bcrypt",
    "3": "nthash",
    "5": "sha256",
    "6": "sha512",
    "7": "scrypt",
    "md5": "sunmd5",
    "sha1": "sha1crypt",
    "y": "yescrypt",
    "gy": "gost-yescrypt",
}
_DES_HASH = re.compile(r"^[./0-9A-Za-z]{13}$")


def _is_nis_marker(line: str) -> bool:
    # "+" and "-" lines pull entries from NIS; they are not accounts themselves.
    return line.startswith(("+", "-"))


def hash_scheme(field: str) -> str:
    """The crypt(5) scheme of a hash, never the hash."""
    if field.startswith("$"):
        scheme_id = field.split("$")[1] if field.count("$") >= 2 else ""
        return _HASH_SCHEMES.get(scheme_id, "unknown")
    if field.startswith("_"):
        return "bsdi"
    if _DES_HASH.match(field):
        return "des"
    return "unknown"


def classify_shadow_password(field: str) -> tuple[PasswordState, str | None]:
    if field == "":
        return PasswordState.EMPTY, None
    if field.startswith("!"):
        rest = field.lstrip("!")
        if rest and rest not in {"*", "x"}:
            return PasswordState.LOCKED, hash_scheme(rest)
        return PasswordState.NO_PASSWORD_LOGIN, None
    if field.startswith("*") or field == "x":
        return PasswordState.NO_PASSWORD_LOGIN, None
    return PasswordState.HASHED, hash_scheme(field)


def classify_passwd_password(field: str) -> PasswordState:
    if field == "x":
        return PasswordState.SHADOWED
    state, _scheme = classify_shadow_password(field)
    return state


def _int_field(text: str, what: str, path: str, line_number: int) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise CollectError(f"{path} line {line_number}: {what} is not a number") from exc


def _optional_int(text: str) -> int | None:
    try:
        return int(text) if text.strip() else None
    except ValueError:
        return None


def _lines(text: str) -> list[tuple[int, str]]:
    numbered = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#") and not _is_nis_marker(line):
            numbered.append((number, line))
    return numbered


def parse_passwd(text: str, path: str = "/etc/passwd") -> tuple[UserAccount, ...]:
    users = []
    for number, line in _lines(text):
        fields = line.split(":")
        if len(fields) != 7:
            # A mangled line may be an account the system still honours; say so loudly.
            raise CollectError(f"{path} line {number} has {len(fields)} fields instead of 7")
        name, password, uid, gid, gecos, home, shell = fields
        users.append(
            UserAccount(
                name=name,
                uid=_int_field(uid, "the UID", path, number),
                gid=_int_field(gid, "the GID", path, number),
                gecos=gecos,
                home=home,
                shell=shell,
                password_state=classify_passwd_password(password),
            )
        )
    return tuple(users)


def parse_group(text: str, path: str = "/etc/group") -> tuple[GroupEntry, ...]:
    groups = []
    for number, line in _lines(text):
        fields = line.split(":")
        if len(fields) != 4:
            raise CollectError(f"{path} line {number} has {len(fields)} fields instead of 4")
        name, _password, gid, members = fields
        groups.append(
            GroupEntry(
                name=name,
                gid=_int_field(gid, "the GID", path, number),
                members=tuple(member for member in members.split(",") if member),
            )
        )
    return tuple(groups)


def parse_shadow(text: str, path: str = "/etc/shadow") -> tuple[ShadowEntry, ...]:
    entries = []
    for number, line in _lines(text):
        fields = line.split(":")
        if len(fields) < 2:
            # The message names the line only: its content may be a password hash.
            raise CollectError(f"{path} line {number} is malformed")
        fields += [""] * (9 - len(fields))
        state, scheme = classify_shadow_password(fields[1])
        entries.append(
            ShadowEntry(
                name=fields[0],
                password_state=state,
                hash_scheme=scheme,
                last_change_days=_optional_int(fields[2]),
                min_days=_optional_int(fields[3]),
                max_days=_optional_int(fields[4]),
                warn_days=_optional_int(fields[5]),
                inactive_days=_optional_int(fields[6]),
                expire_days=_optional_int(fields[7]),
            )
        )
    return tuple(entries)


def _required(host: HostContext, path: str) -> str:
    text = host.read_optional(path)
    if text is None:
        raise said(NotApplicable, "facts.file_missing", path=path)
    return text


def collect_users(host: HostContext) -> tuple[UserAccount, ...]:
    return parse_passwd(_required(host, "/etc/passwd"))


def collect_groups(host: HostContext) -> tuple[GroupEntry, ...]:
    return parse_group(_required(host, "/etc/group"))


def _entries_in_passwd(text: str) -> tuple[ShadowEntry, ...]:
    """Shadow entries for hashes kept in /etc/passwd itself (pwunconv, old systems).

    pwunconv drops the aging fields, so none is known; checks see that as "not recorded".
    """
    entries = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) < 2 or not fields[0] or _is_nis_marker(line):
            continue
        state, scheme = classify_shadow_password(fields[1])
        if state is PasswordState.HASHED or state is PasswordState.EMPTY:
            entries.append(
                ShadowEntry(fields[0], state, scheme, None, None, None, None, None, None)
            )
    return tuple(entries)


def collect_shadow(host: HostContext) -> tuple[ShadowEntry, ...]:
    text = host.read_optional("/etc/shadow")
    if text is not None:
        return parse_shadow(text)
    # No shadow file: the hashes, if any, are in /etc/passwd, and are judged there.
    in_passwd = _entries_in_passwd(host.read_optional("/etc/passwd") or "")
    if in_passwd:
        return in_passwd
    raise said(NotApplicable, "facts.file_missing", path="/etc/shadow")
