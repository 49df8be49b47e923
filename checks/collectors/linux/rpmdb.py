"""Installed rpm packages read from the rpm database's file, for a tree where rpm cannot run.

rpm 4.16 and later (RHEL 9, Fedora 33+, openSUSE) keep the database in SQLite:
rpmdb.sqlite's Packages table holds each package's header, the same binary header a .rpm file
carries (rpm's lib/header.c): the number of index entries and the size of the data, each entry
(tag, type, offset, count) as big-endian 32-bit words, then the data. Older databases
(Berkeley DB: RHEL 7 and 8) are not read here; a tree with one says so.
"""

from __future__ import annotations

import contextlib
import sqlite3
import struct

from checks.errors import CollectError, NotApplicable
from checks.facts import InstalledPackage
from checks.host import HostContext

SQLITE_FILE = "rpmdb.sqlite"
_INDEX = struct.Struct(">iiii")
_INT32, _STRING, _STRING_ARRAY, _I18N_STRING = 4, 6, 8, 9
TAGS = {"name": 1000, "version": 1001, "release": 1002, "epoch": 1003, "summary": 1004}
TAGS |= {"group": 1016, "arch": 1022}


def parse_header(blob: bytes) -> dict[int, str | int]:
    """The string and number tags of one header (the first value of arrays and i18n)."""
    count, size = struct.unpack_from(">ii", blob)
    store = 8 + count * _INDEX.size
    if count < 0 or size < 0 or store + size > len(blob):
        raise ValueError("a header's index or data runs past its end")
    values: dict[int, str | int] = {}
    for number in range(count):
        tag, kind, offset, _ = _INDEX.unpack_from(blob, 8 + number * _INDEX.size)
        start = store + offset
        if kind == _INT32:
            values[tag] = struct.unpack_from(">i", blob, start)[0]
        elif kind in (_STRING, _STRING_ARRAY, _I18N_STRING):
            end = blob.index(b"\0", start)
            values[tag] = blob[start:end].decode("utf-8", errors="replace")
    return values


def rpm_headers(host: HostContext, database: str) -> list[dict[int, str | int]]:
    """The tags of every installed package's header in the database's SQLite file."""
    path = host.path(f"{database}/{SQLITE_FILE}")
    if not path.is_file():
        raise NotApplicable(
            f"the rpm database in {database} is not SQLite (rpm before 4.16: RHEL 7 or 8), and "
            "reading it needs rpm, which is not run on a host tree"
        )
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            blobs = [row[0] for row in db.execute("SELECT blob FROM Packages")]
    except sqlite3.Error as exc:
        raise CollectError(f"{database}/{SQLITE_FILE} could not be read: {exc}") from exc
    headers = []
    for blob in blobs:
        try:
            tags = parse_header(bytes(blob))
        except (ValueError, struct.error):
            continue  # a damaged header: rpm -qa skips it too
        if tags.get(TAGS["name"]):
            headers.append(tags)
    return headers


def packages_from_sqlite(host: HostContext, database: str) -> tuple[InstalledPackage, ...]:
    packages = []
    for tags in rpm_headers(host, database):
        # VERSION-RELEASE without the epoch, as the live path's rpm -qa query gives it.
        version = f"{tags.get(TAGS['version'], '')}-{tags.get(TAGS['release'], '')}"
        packages.append(
            InstalledPackage(
                str(tags[TAGS["name"]]),
                version,
                str(tags.get(TAGS["arch"], "")),
                str(tags.get(TAGS["group"], "")),
                "rpm",
                str(tags.get(TAGS["summary"], "")),
            )
        )
    return tuple(packages)
