"""Pending updates of a Red Hat family host from files: the rpm database and dnf's cache.

What `dnf check-update -C` and `dnf updateinfo list --security -C` answer live, computed for a
tree where no command runs: each repository's metadata that dnf keeps in its cache
(/var/cache/dnf/REPO-HASH/repodata, libdnf5's /var/cache/libdnf5: repomd.xml naming the
primary list of packages and the updateinfo list of advisories), the newest version of each
installed package's name and architecture by rpm's order, and whether a security advisory
names a version newer than the installed one. Metadata compressed with zstd or zchunk
(Fedora's default) cannot be read with Python's standard library and is skipped; a host whose
cache holds none readable says so.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from pathlib import Path

from checks.collectors.linux.packages import rpm_database
from checks.collectors.linux.rpmdb import TAGS, rpm_headers
from checks.collectors.linux.rpmversion import evrcmp
from checks.errors import NotApplicable
from checks.facts import PendingUpdate
from checks.host import HostContext
from checks.messages import said

DNF_CACHES = ("/var/cache/dnf", "/var/cache/libdnf5")
_REPO = "{http://linux.duke.edu/metadata/repo}"
_COMMON = "{http://linux.duke.edu/metadata/common}"
_OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}

Evr = tuple[int, str, str]


def _open(path: Path) -> bytes | None:
    if path.suffix == ".xml":
        return path.read_bytes()
    opener = _OPENERS.get(path.suffix)
    if opener is None:
        return None  # .zst, .zck
    with opener(path, "rb") as handle:
        return bytes(handle.read())


def _metadata(repodata: Path) -> dict[str, Path]:
    """type -> file, from repomd.xml."""
    tree = ElementTree.parse(repodata / "repomd.xml")
    found = {}
    for data in tree.getroot().iter(f"{_REPO}data"):
        location = data.find(f"{_REPO}location")
        href = location.get("href", "") if location is not None else ""
        if href:
            found[data.get("type", "")] = repodata.parent / href
    return found


def _shown(evr: Evr) -> str:
    """As dnf shows it: the epoch only when there is one."""
    return f"{evr[0]}:{evr[1]}-{evr[2]}" if evr[0] else f"{evr[1]}-{evr[2]}"


def _evr(element: ElementTree.Element, epoch: str, version: str, release: str) -> Evr:
    return (int(element.get(epoch) or 0), element.get(version) or "", element.get(release) or "")


def _primary(data: bytes) -> Iterator[tuple[str, str, Evr]]:
    for package in ElementTree.fromstring(data).iter(f"{_COMMON}package"):
        name, arch = package.findtext(f"{_COMMON}name"), package.findtext(f"{_COMMON}arch")
        version = package.find(f"{_COMMON}version")
        if name and arch and version is not None:
            yield name, arch, _evr(version, "epoch", "ver", "rel")


def _security(data: bytes) -> Iterator[tuple[str, str, Evr]]:
    for update in ElementTree.fromstring(data).iter("update"):
        if update.get("type") != "security":
            continue
        for package in update.iter("package"):
            name, arch = package.get("name"), package.get("arch")
            if name and arch:
                yield name, arch, _evr(package, "epoch", "version", "release")


def _repodata_folders(host: HostContext) -> list[tuple[str, Path]]:
    folders = []
    for cache in DNF_CACHES:
        base = host.path(cache)
        for repodata in sorted(base.glob("*/repodata/repomd.xml")) if base.is_dir() else []:
            # REPO-HASH: the repository's id before the last dash.
            folders.append((repodata.parent.parent.name.rsplit("-", 1)[0], repodata.parent))
    return folders


def pending_from_dnf_cache(host: HostContext) -> tuple[PendingUpdate, ...]:
    database = rpm_database(host)
    if database is None:
        raise said(NotApplicable, "facts.no_rpm_database")
    installed: dict[tuple[str, str], Evr] = {}
    for tags in rpm_headers(host, database):
        key = (str(tags[TAGS["name"]]), str(tags.get(TAGS["arch"], "")))
        evr: Evr = (
            int(tags.get(TAGS["epoch"], 0)),
            str(tags.get(TAGS["version"], "")),
            str(tags.get(TAGS["release"], "")),
        )
        # Several kernels may be installed: the newest is what an update must beat.
        if key not in installed or evrcmp(evr, installed[key]) > 0:
            installed[key] = evr
    newest: dict[tuple[str, str], tuple[Evr, str]] = {}
    advisories: dict[tuple[str, str], list[Evr]] = {}
    readable = 0
    for repo, repodata in _repodata_folders(host):
        files = _metadata(repodata)
        primary = _open(files["primary"]) if "primary" in files else None
        if primary is None:
            continue
        readable += 1
        for name, arch, evr in _primary(primary):
            key = (name, arch)
            if key in installed and (key not in newest or evrcmp(evr, newest[key][0]) > 0):
                newest[key] = (evr, repo)
        updateinfo = _open(files["updateinfo"]) if "updateinfo" in files else None
        for name, arch, evr in _security(updateinfo or b"<updates/>"):
            advisories.setdefault((name, arch), []).append(evr)
    if not readable:
        raise said(NotApplicable, "facts.no_dnf_metadata")
    updates = []
    for key, (evr, repo) in sorted(newest.items()):
        current = installed[key]
        if evrcmp(evr, current) <= 0:
            continue
        security = any(evrcmp(fixed, current) > 0 for fixed in advisories.get(key, []))
        updates.append(
            PendingUpdate(
                package=key[0],
                current_version=_shown(current),
                new_version=_shown(evr),
                origin=repo,
                is_security=security,
            )
        )
    return tuple(updates)
