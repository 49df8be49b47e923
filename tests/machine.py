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
* **network numbers** (``claim_number``): the isolation tests' veth link in the root namespace
  gets a /24 of its own (tests/isolation/netns.py); a number is held by a lock file of its own
  for as long as the link exists, so two tests (of this run or another) never share one.
* Small disks (tests/small_disk.py) are mounted at a path of the test's own and need no lock.

The locks are flock(2) locks on files in the temporary folder: across pytest-xdist workers and
across test runs, released by the kernel when a process dies.
"""

from __future__ import annotations

import fcntl
import random
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

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


@contextmanager
def claim_number(
    kind: str, first: int, last: int, in_use: Callable[[int], bool] = lambda _n: False
) -> Iterator[int]:
    """A number in ``first..last`` that no other holder of ``kind`` has, held for the block.

    Tried in random order without waiting: a number whose lock is free and that ``in_use``
    does not report as taken (by something that does not take these locks) is ours until the
    block ends. Fails when all are taken, which would mean hundreds of tests at once.
    """
    numbers = list(range(first, last + 1))
    random.shuffle(numbers)
    for number in numbers:
        lock: IO[str] = lock_path(f"{kind}-{number}").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue
        try:
            if in_use(number):
                continue
            yield number
            return
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            lock.close()
    raise AssertionError(f"every {kind} number {first}..{last} is taken by other tests")
