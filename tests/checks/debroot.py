"""A real Debian 12 root made by debootstrap, cached once, unpacked per test session.

docs/lynis-comparison.md ("A real Debian root") and issue 12 say why: trees built file by file
pass their own tests, a real installation shows what a careful auditor finds. Building the root
costs minutes and the Debian mirror, so it is built once into
~/.cache/xunjian/debootstrap-bookworm-<key>.tar, the key being a digest of everything that
shapes it (suite, variant, packages, mirror). Unpacking a copy takes seconds.

The cached root holds the apt lists of bookworm, bookworm-updates and bookworm-security (so the
pending security updates can be computed from files), and the .deb files of a P2P client and a
game, rsyslog and logrotate in apt's archive folder, so a test installs them with apt-get in
chroot without a network.

Run `python -m tests.checks.debroot` (as root) to build the cache ahead of the tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
VARIANT = "minbase"
# openssh-server: its own sshd_config to edit with sed; cron: crontab; sudo: sudoers.
INCLUDE = ("openssh-server", "cron", "sudo")
# Downloaded into the root's apt archive, installed by the tests with apt-get in chroot:
# a P2P client and a game (unapproved software), a syslog daemon and logrotate (logs kept on
# disk, rotated by Debian's stock rules).
CACHED_DEBS = ("ctorrent", "sl", "rsyslog", "logrotate")
CACHE_DIR = Path(os.environ.get("XUNJIAN_CACHE", Path.home() / ".cache" / "xunjian"))


class DebrootUnavailable(RuntimeError):
    """The root cannot be built: a tool or the mirror is missing; the text says which."""


def cache_key() -> str:
    shape = {
        "suite": SUITE,
        "mirror": MIRROR,
        "security": SECURITY_MIRROR,
        "variant": VARIANT,
        "include": INCLUDE,
        "debs": CACHED_DEBS,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:12]


def cache_path() -> Path:
    return CACHE_DIR / f"debootstrap-{SUITE}-{cache_key()}.tar"


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-1500:]
        raise DebrootUnavailable(f"{what} failed ({' '.join(argv[:4])} ...): {tail}")


def build_cache() -> Path:
    """Debootstrap the root, add apt lists and the cached .debs, and store it as a tar."""
    target = cache_path()
    debootstrap = shutil.which("debootstrap", path="/usr/sbin:/usr/bin:/sbin:/bin")
    if debootstrap is None:
        raise DebrootUnavailable(
            "debootstrap is missing: install the Debian package debootstrap "
            "(apt-get install -y debootstrap)"
        )
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="debroot-build-", dir=CACHE_DIR))
    root = work / "root"
    try:
        _run(
            [
                debootstrap,
                f"--variant={VARIANT}",
                f"--include={','.join(INCLUDE)}",
                SUITE,
                str(root),
                MIRROR,
            ],
            f"debootstrap from {MIRROR} (is the mirror reachable?)",
        )
        (root / "etc/apt/sources.list").write_text(
            f"deb {MIRROR} {SUITE} main\n"
            f"deb {MIRROR} {SUITE}-updates main\n"
            f"deb {SECURITY_MIRROR} {SUITE}-security main\n"
        )
        shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
        _run(["chroot", str(root), "apt-get", "update", "-q"], "apt-get update in chroot")
        _run(
            [
                "chroot",
                str(root),
                "apt-get",
                "install",
                "-y",
                "-q",
                "--download-only",
                *CACHED_DEBS,
            ],
            "apt-get --download-only in chroot",
        )
        (root / "etc/resolv.conf").unlink()
        partial = work / "root.tar"
        # debootstrap unmounts /proc and /sys when done; never archive a live one.
        _run(
            [
                "tar",
                "-C",
                str(root),
                "--numeric-owner",
                "--exclude=./proc/*",
                "--exclude=./sys/*",
                "-cf",
                str(partial),
                ".",
            ],
            "tar",
        )
        partial.replace(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def unpack(dest: Path) -> Path:
    """A fresh copy of the cached root at dest, building the cache when there is none."""
    source = cache_path()
    if not source.exists():
        build_cache()
    dest.mkdir(parents=True, exist_ok=True)
    _run(["tar", "-C", str(dest), "--numeric-owner", "-xf", str(source)], "tar -x")
    return dest


if __name__ == "__main__":
    print(build_cache())
