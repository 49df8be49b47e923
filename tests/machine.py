"""Locks for the few things the tests change on this machine itself, held as briefly as the
thing needs (docs/PERFORMANCE.md, "Test suite", fourth pass).

Before, every module that made an account, a veth link or a mount took one machine-wide lock for
its whole run, and a pytest-xdist worker waiting for it did nothing else (44 s seen in one
setup). Now each shared thing has a lock of its own, held no longer than it must be, and what
can be made unique is:

* **accounts** (``ACCOUNTS``): useradd, userdel and chpasswd lock /etc/passwd and /etc/shadow
  themselves and fail, rather than wait, when another one holds them. The account names are
  unique per test, so only the command itself takes turns: a lock held for the one call.
* **the installed agent** (``INSTALL``): ``xunjian deploy ssh`` installs into the product's own
  paths (/opt/xunjian, /var/lib/xunjian/agent, /etc/systemd/system), which a test cannot choose,
  so the tests that install (tests/deploy/conftest.py ``clean_host``) take turns, each for its
  whole run; their modules' sshd and accounts are set up meanwhile. The file is the one the
  single machine-wide lock used, so a run of an older checkout beside this one still takes
  turns with it.
* The isolation tests' veth links are made between namespaces of their own and need no lock
  (tests/isolation/netns.py).
* Small disks (tests/small_disk.py) are mounted at a path of the test's own and need no lock.

The locks are flock(2) locks on files in the temporary folder: across pytest-xdist workers and
across test runs, released by the kernel when a process dies.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FOLDER = Path(tempfile.gettempdir())
ACCOUNTS = "accounts"
INSTALL = "machine"  # the old machine-wide lock's file name; see the module's docstring


def lock_path(name: str) -> Path:
    return LOCK_FOLDER / f"xunjian-tests-{name}.lock"


@contextmanager
def machine_lock(name: str) -> Iterator[None]:
    """Hold the exclusive lock ``name`` (waiting for it) while the block runs."""
    with lock_path(name).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
