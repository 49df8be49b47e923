"""Local accounts and the password policy from the Net API, when the SAM cannot be saved.

The SAM path (sam.py over a copy saved with RegSaveKey) needs SeBackupPrivilege, which only
LocalSystem (or an elevated administrator) holds; under wine, or when an administrator runs
``xunjian scan`` without elevation, it raises NoPrivilege. ``NetUserEnum`` and
``NetUserModalsGet`` need no privilege for the local machine, so the agent can still list the
accounts and the policy. They are converted here to the SAM path's facts (LocalAccount,
SamPasswordPolicy), with what the Net API does not carry said as unknown (None), not guessed:
whether an account holds a password at all, and password complexity (a property of the
account domain the Net API does not expose).

The dicts are pywin32's (``win32net``), as it returns them: NetUserEnum level 3 (USER_INFO_3:
name, user_id, flags, last_logon in seconds since 1970 with 0 for never, password_age in
seconds, num_logons, bad_pw_count, ...), NetUserModalsGet level 0 (USER_MODALS_INFO_0:
min_passwd_len, max_passwd_age, min_passwd_age, password_hist_len, ages in seconds,
TIMEQ_FOREVER for never) and level 3 (USER_MODALS_INFO_3: lockout_duration,
lockout_observation_window, lockout_threshold). The calls themselves sit behind
``live.net_api()`` (win32.Pywin32NetApi); the conversion is pure and tested with recordings.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from checks.facts_windows import LocalAccount, SamPasswordPolicy

# USER_INFO_1/2/3 usri_flags, as lmaccess.h names them.
UF_ACCOUNTDISABLE = 0x0002
UF_LOCKOUT = 0x0010
UF_PASSWD_NOTREQD = 0x0020
UF_DONT_EXPIRE_PASSWD = 0x10000
# TIMEQ_FOREVER is a DWORD 0xFFFFFFFF; pywin32 has returned it as -1 or as the unsigned value.
_FOREVER = (-1, 0xFFFFFFFF)
_DAY = 86_400


class NetApiError(Exception):
    """A Net API answer this code cannot use; str() is the sentence a check shows."""


def _int(record: Mapping[str, Any], field: str, what: str) -> int:
    value = record.get(field)
    if not isinstance(value, int) or isinstance(value, bool):
        raise NetApiError(f"{what} has no integer {field!r} (got {value!r})")
    return value


def _text(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    return value if isinstance(value, str) else ""


def logon_times_known(users: Iterable[Mapping[str, Any]]) -> bool:
    """Whether the records carry logon times (levels 2, 3), not level 20's name and flags."""
    return all("last_logon" in user and "password_age" in user for user in users)


def accounts_from_users(
    users: Iterable[Mapping[str, Any]], now: datetime.datetime
) -> list[LocalAccount]:
    """USER_INFO_3 or USER_INFO_20 (wine's) dicts as the SAM path's LocalAccount, by RID; level
    2 has no user_id, and a record without one is refused. ``now`` turns password_age (seconds
    since the password was set) into a time."""
    accounts = []
    for user in users:
        name = _text(user, "name")
        what = f"NetUserEnum's record of {name or '?'}"
        rid = _int(user, "user_id", what)
        flags = _int(user, "flags", what)
        # Level 20 (all wine offers) has no times: unknown, and the fact says so.
        times = "password_age" in user
        last = _int(user, "last_logon", what) if times else 0
        age = _int(user, "password_age", what) if times else 0
        accounts.append(
            LocalAccount(
                rid=rid,
                name=name,
                full_name=_text(user, "full_name"),
                comment=_text(user, "comment"),
                disabled=bool(flags & UF_ACCOUNTDISABLE),
                locked=bool(flags & UF_LOCKOUT),
                password_not_required=bool(flags & UF_PASSWD_NOTREQD),
                password_never_expires=bool(flags & UF_DONT_EXPIRE_PASSWD),
                # The Net API never says whether a hash is stored (an empty password).
                has_password=None,
                last_logon=datetime.datetime.fromtimestamp(last, datetime.UTC) if last else None,
                password_last_set=(now - datetime.timedelta(seconds=age)).replace(microsecond=0)
                if times
                else None,
                logon_count=int(user.get("num_logons") or 0),
                bad_password_count=int(user.get("bad_pw_count") or 0),
            )
        )
    return sorted(accounts, key=lambda account: account.rid)


def _days(seconds: int) -> int | None:
    return None if seconds in _FOREVER else seconds // _DAY


def policy_from_modals(level0: Mapping[str, Any], level3: Mapping[str, Any]) -> SamPasswordPolicy:
    """USER_MODALS_INFO_0 and _3 as the SAM path's policy; complexity is not in them (None)."""
    what0, what3 = "NetUserModalsGet level 0", "NetUserModalsGet level 3"
    max_age = _int(level0, "max_passwd_age", what0)
    duration = _int(level3, "lockout_duration", what3)
    return SamPasswordPolicy(
        min_length=_int(level0, "min_passwd_len", what0),
        complexity=None,
        # 0 is "expire at once" for the API, never set by the UI; the SAM path reads 0 as never.
        max_age_days=None if max_age == 0 else _days(max_age),
        min_age_days=_days(_int(level0, "min_passwd_age", what0)) or 0,
        history=_int(level0, "password_hist_len", what0),
        lockout_threshold=_int(level3, "lockout_threshold", what3),
        # TIMEQ_FOREVER: locked until an administrator unlocks, as the SAM path's "never".
        lockout_minutes=None if duration in _FOREVER or duration == 0 else duration // 60,
    )
