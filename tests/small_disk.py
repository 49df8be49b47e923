"""A small filesystem of its own for a test: a tmpfs with ``size=`` mounted by the test (root
only), filled on demand with a file of zeros and freed again by deleting it.

Nothing is simulated: a process writing to it gets the kernel's ENOSPC, which SQLite reports as
``database or disk is full`` and Python's file writes as ``OSError(ENOSPC)``. Each test mounts
at a path of its own (its ``tmp_path``, or a random name under /tmp) with a size of its own, and
filling one tmpfs fills no other: tests with small disks run beside each other without a lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

FILLER = ".filler"
_CHUNK = 64 * 1024


@dataclass
class SmallDisk:
    """A tmpfs of ``size_bytes`` at ``mount_point`` (made and mounted by ``mount``)."""

    mount_point: Path
    size_bytes: int
    # The user that owns the filesystem's root (PostgreSQL's own for a tablespace); root if None.
    owner: str | None = None

    def mount(self) -> None:
        if os.geteuid() != 0:
            pytest.fail("this test mounts a small tmpfs for the server's data: run as root")
        self.mount_point.mkdir(parents=True, exist_ok=True)
        options = f"size={self.size_bytes},mode=0700"
        if self.owner is not None:
            user = pwd.getpwnam(self.owner)
            options += f",uid={user.pw_uid},gid={user.pw_gid}"
        subprocess.run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                options,
                "xunjian-test-small-disk",
                str(self.mount_point),
            ],
            check=True,
            capture_output=True,
            text=True,
        )

    def unmount(self) -> None:
        """Unmount, also when a stray process still holds a file there (lazily then): a test
        must never leave a mount behind."""
        if not os.path.ismount(self.mount_point):
            return
        done = subprocess.run(
            ["umount", str(self.mount_point)], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            subprocess.run(["umount", "-l", str(self.mount_point)], check=True)

    @property
    def filler(self) -> Path:
        return self.mount_point / FILLER

    def fill(self) -> int:
        """Write zeros until the kernel says the disk is full; returns the bytes written."""
        written = 0
        block = b"\0" * _CHUNK
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                try:
                    written += os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
            # The last pages: a smaller write may still fit where a whole chunk did not.
            with contextlib.suppress(OSError):
                while True:
                    written += os.write(fd, b"\0" * 512)
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def available(self) -> int:
        stats = os.statvfs(self.mount_point)
        return stats.f_bavail * stats.f_frsize
