"""Network identity (addresses per interface) and the newest file in a backup location."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime

from checks.errors import NoPrivilege, NotApplicable
from checks.facts import BackupLocation, NetworkInterface
from checks.host import HostContext
from checks.messages import said

# A backup folder can hold millions of files; stop walking after this many.
MAX_BACKUP_FILES = 200_000


def collect_network_interfaces(host: HostContext) -> tuple[NetworkInterface, ...]:
    # The inventory already knows how to read addresses live and from a tree; share it.
    from checks.inventory import collect_inventory_from

    entries = collect_inventory_from(host)["addresses"]
    if not entries:
        raise said(NotApplicable, "facts.no_interfaces")
    return tuple(
        NetworkInterface(e["interface"], e["mac"], tuple(e["ipv4"]), tuple(e["ipv6"]))
        for e in entries
    )


def collect_backup_location(host: HostContext, location: str) -> BackupLocation:
    if not location.startswith("/"):
        raise NotApplicable(f"backup location {location!r} is not an absolute path")
    top = host.path(location)
    if not top.exists():
        return BackupLocation(location, False, None, None, 0)
    if not os.access(top, os.R_OK | os.X_OK) and top.is_dir():
        raise NoPrivilege(f"backup location {location} is not readable by this account")
    newest: tuple[float, str] | None = None
    seen = 0
    denied: list[str] = []
    walk: Iterable[tuple[str, list[str], list[str]]] = (
        [(str(top.parent), [], [top.name])]
        if top.is_file()
        else os.walk(top, onerror=lambda exc: denied.append(str(exc.filename)))
    )
    for folder, _dirs, names in walk:
        for name in names:
            path = os.path.join(folder, name)
            try:
                info = os.stat(path, follow_symlinks=False)
            except OSError:
                continue
            seen += 1
            if newest is None or info.st_mtime > newest[0]:
                newest = (info.st_mtime, path)
            if seen >= MAX_BACKUP_FILES:
                break
        if seen >= MAX_BACKUP_FILES:
            break
    if newest is None and denied:
        raise NoPrivilege(f"folders under backup location {location} are not readable")
    root_text = str(host.root).rstrip("/")
    return BackupLocation(
        path=location,
        exists=True,
        newest_file=("/" + newest[1][len(root_text) :].lstrip("/")) if newest else None,
        newest_at=datetime.fromtimestamp(newest[0], UTC) if newest else None,
        files_seen=seen,
    )
