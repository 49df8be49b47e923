"""Pending updates read from files: dpkg's status against apt's downloaded package lists.

Under `--root` no command runs (docs/architecture.md), so `apt-get -s dist-upgrade` cannot tell
what is pending. The same answer is in files: each installed package's version in
/var/lib/dpkg/status, and every version the configured sources offer in
/var/lib/apt/lists/*_Packages, whose suite (bookworm-security, ...) is in the matching
*_InRelease or *_Release file. A package is pending when a list offers a newer version by
Debian's ordering (debversion.py); it is a security update when a security suite offers one.
Pin priorities and held packages are not weighed: what is offered is reported.
"""

from __future__ import annotations

import gzip
import lzma
import re
from dataclasses import dataclass
from pathlib import Path

from checks.collectors.linux.debversion import compare
from checks.errors import NotApplicable
from checks.facts import PendingUpdate
from checks.host import HostContext
from checks.messages import said

APT_LISTS = "/var/lib/apt/lists"
DPKG_STATUS = "/var/lib/dpkg/status"
_PACKAGES_NAME = re.compile(
    r"^(?P<release>.+_dists_.+?)_(?:[^_]+_)*binary-[^_]+_Packages(?P<ext>(\.\w+)?)$"
)


@dataclass(frozen=True)
class AptSource:
    list_file: str  # the Packages file's name under /var/lib/apt/lists
    suite: str
    origin: str
    label: str

    @property
    def is_security(self) -> bool:
        return "security" in f"{self.suite} {self.label}".lower()

    @property
    def name(self) -> str:
        return f"{self.origin or '?'} {self.suite or '?'}"


def _fields(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in stanza.splitlines():
        if line[:1].isspace() or ":" not in line:
            continue
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _read_list(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    elif path.suffix == ".xz":
        data = lzma.decompress(data)
    elif path.suffix == ".lz4":
        return ""  # apt's optional lz4 index format: not readable with the stdlib
    return data.decode("utf-8", errors="replace")


def _release_fields(lists: Path, release_prefix: str) -> dict[str, str]:
    for name in (f"{release_prefix}_InRelease", f"{release_prefix}_Release"):
        path = lists / name
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace")
            # InRelease is clear-signed: the fields come after the armour header.
            text = text.split("\n\n", 1)[1] if text.startswith("-----BEGIN") else text
            return _fields(text.split("\n\n", 1)[0])
    return {}


def apt_sources(host: HostContext) -> list[AptSource]:
    lists = host.path(APT_LISTS)
    if not lists.is_dir():
        return []
    sources = []
    for path in sorted(lists.iterdir()):
        match = _PACKAGES_NAME.match(path.name)
        if match is None:
            continue
        release = _release_fields(lists, match["release"])
        sources.append(
            AptSource(
                list_file=path.name,
                suite=release.get("Suite", "") or release.get("Codename", ""),
                origin=release.get("Origin", ""),
                label=release.get("Label", ""),
            )
        )
    return sources


def _installed(host: HostContext) -> dict[tuple[str, str], str]:
    text = host.read_optional(DPKG_STATUS) or ""
    installed: dict[tuple[str, str], str] = {}
    for stanza in text.split("\n\n"):
        fields = _fields(stanza)
        if fields.get("Status", "").split()[-1:] == ["installed"] and "Package" in fields:
            installed[(fields["Package"], fields.get("Architecture", ""))] = fields.get(
                "Version", ""
            )
    return installed


def pending_from_lists(host: HostContext) -> tuple[tuple[PendingUpdate, ...], list[AptSource]]:
    """Updates the lists offer over the installed versions, and the sources that were read."""
    installed = _installed(host)
    installed_names = {name for name, _ in installed}
    best: dict[tuple[str, str], tuple[str, AptSource]] = {}
    best_security: dict[tuple[str, str], str] = {}
    sources = apt_sources(host)
    if not sources:
        raise said(NotApplicable, "facts.no_apt_lists", path=APT_LISTS)
    lists = host.path(APT_LISTS)
    for source in sources:
        for stanza in _read_list(lists / source.list_file).split("\n\n"):
            # A Packages file has tens of thousands of stanzas, each starting with its Package
            # line: most name a package that is not installed and are skipped at once.
            first = stanza.lstrip("\n").split("\n", 1)[0]
            if first.startswith("Package: ") and first[9:].strip() not in installed_names:
                continue
            name = version = arch = ""
            for line in stanza.splitlines():
                if line.startswith("Package: "):
                    name = line[9:].strip()
                elif line.startswith("Version: "):
                    version = line[9:].strip()
                elif line.startswith("Architecture: "):
                    arch = line[14:].strip()
            key = (name, arch)
            current = installed.get(key)
            if current is None or compare(version, current) <= 0:
                continue
            if key not in best or compare(version, best[key][0]) > 0:
                best[key] = (version, source)
            if source.is_security and (
                key not in best_security or compare(version, best_security[key]) > 0
            ):
                best_security[key] = version
    updates = [
        PendingUpdate(
            package=name,
            current_version=installed[(name, arch)],
            new_version=version,
            origin=source.name,
            is_security=(name, arch) in best_security,
        )
        for (name, arch), (version, source) in sorted(best.items())
    ]
    return tuple(updates), sources
