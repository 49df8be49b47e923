"""When each account last logged in: wtmp, lastlog and lastlog2, whichever the host keeps."""

from __future__ import annotations

import contextlib
import sqlite3
import struct
from datetime import UTC, datetime

from checks.collectors.linux.accounts import parse_passwd
from checks.errors import CollectError, NoPrivilege
from checks.facts import LastLogins
from checks.host import HostContext
from checks.messages import said

WTMP_FILES = ("/var/log/wtmp", "/var/log/wtmp.1")
LASTLOG = "/var/log/lastlog"
LASTLOG2 = "/var/lib/lastlog/lastlog2.db"
# glibc's struct utmp on Linux (x86, x86-64, arm64 alike): type, pid, line, id, user, host,
# exit status, session, tv_sec, tv_usec, address, reserved.
UTMP = struct.Struct("<hxxi32s4s32s256shhiii16s20x")
USER_PROCESS = 7
# struct lastlog: time, line, host; the file is indexed by UID.
LASTLOG_RECORD = struct.Struct("<i32s256s")


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")


def parse_wtmp(data: bytes) -> dict[str, datetime]:
    newest: dict[str, datetime] = {}
    usable = len(data) - len(data) % UTMP.size
    for fields in UTMP.iter_unpack(data[:usable]):
        kind, user, seconds = fields[0], _text(fields[4]), fields[9]
        if kind != USER_PROCESS or not user or seconds <= 0:
            continue
        when = datetime.fromtimestamp(seconds, UTC)
        if user not in newest or when > newest[user]:
            newest[user] = when
    return newest


def _read_bytes(host: HostContext, path: str) -> bytes | None:
    target = host.path(path)
    if not target.is_file():
        return None
    try:
        return target.read_bytes()
    except PermissionError as exc:
        raise said(NoPrivilege, "facts.unreadable", path=path) from exc


def _lastlog(host: HostContext, uids: dict[str, int]) -> dict[str, datetime]:
    target = host.path(LASTLOG)
    found: dict[str, datetime] = {}
    try:
        with target.open("rb") as handle:
            for name, uid in uids.items():
                # The file is sparse: seek to each account's record instead of reading it all.
                handle.seek(uid * LASTLOG_RECORD.size)
                record = handle.read(LASTLOG_RECORD.size)
                if len(record) == LASTLOG_RECORD.size:
                    seconds = LASTLOG_RECORD.unpack(record)[0]
                    if seconds > 0:
                        found[name] = datetime.fromtimestamp(seconds, UTC)
    except PermissionError as exc:
        raise said(NoPrivilege, "facts.unreadable", path=LASTLOG) from exc
    return found


def _lastlog2(host: HostContext) -> dict[str, datetime]:
    target = host.path(LASTLOG2)
    try:
        with contextlib.closing(sqlite3.connect(f"{target.as_uri()}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT Name, Time FROM Lastlog2").fetchall()
    except sqlite3.Error as exc:
        raise CollectError(f"{LASTLOG2} could not be read: {exc}") from exc
    return {
        str(name): datetime.fromtimestamp(int(seconds), UTC)
        for name, seconds in rows
        if name and seconds
    }


def collect_last_logins(host: HostContext) -> LastLogins:
    newest: dict[str, datetime] = {}
    sources: list[str] = []

    def merge(found: dict[str, datetime]) -> None:
        for name, when in found.items():
            if name not in newest or when > newest[name]:
                newest[name] = when

    for path in WTMP_FILES:
        data = _read_bytes(host, path)
        if data is not None:
            sources.append(path)
            merge(parse_wtmp(data))
    if host.path(LASTLOG).is_file():
        users = parse_passwd(host.read_optional("/etc/passwd") or "")
        sources.append(LASTLOG)
        merge(_lastlog(host, {u.name: u.uid for u in users}))
    if host.path(LASTLOG2).is_file():
        sources.append(LASTLOG2)
        merge(_lastlog2(host))
    return LastLogins(by_account=newest, sources=tuple(sources))
