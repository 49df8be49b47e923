"""Where evidence archives are kept (POLICY.md A2: apart from everything else, access logged):
``DATA/evidence/`` (0700), a folder per agent (0700), and per snapshot ``<id>.tar.part``
(0600) while it arrives, renamed to ``<id>.tar`` and made read-only (0400) once complete and
verified. A complete archive is never opened for writing again (write-once); the database row
holds its SHA-256, so a changed file shows on the next download check.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from xunjian.core.contract import UUID_PATTERN

FOLDER = "evidence"
DIR_MODE = 0o700
PART_MODE = 0o600
SEALED_MODE = 0o400
_UUID = re.compile(UUID_PATTERN)


def root(data: Path) -> Path:
    return data / FOLDER


def _folder(data: Path, agent_id: str) -> Path:
    if not _UUID.fullmatch(agent_id):
        raise ValueError(f"not an agent id: {agent_id[:40]!r}")
    folder = root(data) / agent_id
    for directory in (root(data), folder):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)
        os.chmod(directory, DIR_MODE)
    return folder


def part_path(data: Path, agent_id: str, snapshot_id: str) -> Path:
    if not _UUID.fullmatch(snapshot_id):
        raise ValueError(f"not a snapshot id: {snapshot_id[:40]!r}")
    return _folder(data, agent_id) / f"{snapshot_id}.tar.part"


def archive_path(data: Path, agent_id: str, snapshot_id: str) -> Path:
    if not _UUID.fullmatch(snapshot_id) or not _UUID.fullmatch(agent_id):
        raise ValueError("not an id")
    return root(data) / agent_id / f"{snapshot_id}.tar"


def write_at(path: Path, offset: int, data: bytes) -> None:
    """Write ``data`` at ``offset`` of the partial archive and make it durable before the row
    says it arrived (a crash then loses nothing the agent was told was received)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PART_MODE)
    try:
        os.fchmod(fd, PART_MODE)
        view = memoryview(data)
        position = offset
        while view:
            written = os.pwrite(fd, view, position)
            view, position = view[written:], position + written
        os.fsync(fd)
    finally:
        os.close(fd)


def discard(path: Path) -> None:
    path.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def seal(part: Path, archive: Path) -> None:
    """The partial file becomes the archive, read-only; the folder's entry made durable."""
    os.chmod(part, SEALED_MODE)
    os.replace(part, archive)
    fd = os.open(archive.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
