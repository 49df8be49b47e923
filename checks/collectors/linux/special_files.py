"""World-writable files and set-user/group-id programs: one walk of the host's own folders.

Anyone may change a world-writable file in /usr or /etc, and so run code as whoever uses it; a
set-user-id program runs as its owner (root) for anyone, so one that the distribution does not
ship is the classic backdoor. The walk stays on each top folder's file system (no container
layers, network shares or removable media) and leaves out the kernel's pseudo file systems,
and people's home folders (/home, /root): they hold the users' own files, often hundreds of
thousands of them, and the walk must stay within a scan's few seconds
(docs/PERFORMANCE.md).
"""

from __future__ import annotations

import os
import stat

from checks.collectors.linux.packages import dpkg_owner_index
from checks.collectors.linux.processes import package_owner
from checks.errors import NoPrivilege
from checks.facts import SpecialFile, SpecialFiles
from checks.host import HostContext

WALK_ROOTS = (
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/usr",
    "/etc",
    "/boot",
    "/opt",
    "/srv",
    "/var",
    "/tmp",
)
# Image and container stores: their files belong to the images, not to this host's system.
SKIPPED = frozenset({"/var/lib/docker", "/var/lib/containers", "/var/lib/lxc", "/var/lib/lxd"})
_SETID = stat.S_ISUID | stat.S_ISGID


def collect_special_files(host: HostContext) -> SpecialFiles:
    top = str(host.root).rstrip("/")
    writable: list[tuple[str, int, bool, int, int]] = []
    setid: list[tuple[str, int, bool, int, int]] = []
    walked: list[str] = []
    unreadable: list[str] = []
    for start in WALK_ROOTS:
        base = host.path(start)
        # With merged /usr, /bin and friends are links into /usr: walked once, there.
        if base.is_symlink() or not base.is_dir():
            continue
        walked.append(start)
        device = base.stat().st_dev
        pending = [str(base)]
        while pending:
            folder = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except PermissionError:
                unreadable.append(folder[len(top) :] or "/")
                continue
            except OSError:
                continue  # vanished while walking (a live host changes)
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                mode = info.st_mode
                host_path = entry.path[len(top) :]
                if stat.S_ISDIR(mode):
                    if info.st_dev == device and host_path not in SKIPPED:
                        pending.append(entry.path)
                    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
                        writable.append((host_path, mode, True, info.st_uid, info.st_gid))
                elif stat.S_ISREG(mode):
                    if mode & stat.S_IWOTH:
                        writable.append((host_path, mode, False, info.st_uid, info.st_gid))
                    if mode & _SETID:
                        setid.append((host_path, mode, False, info.st_uid, info.st_gid))
    if unreadable:
        raise NoPrivilege(
            f"{len(unreadable)} folders could not be read while looking for world-writable and "
            f"set-user-id files, such as {unreadable[0]}"
        )
    owners = dpkg_owner_index(host) if writable or setid else None

    def special(found: tuple[str, int, bool, int, int]) -> SpecialFile:
        path, mode, is_dir, uid, gid = found
        package = package_owner(path, owners) if owners is not None else None
        return SpecialFile(path, stat.S_IMODE(mode), is_dir, uid, gid, package)

    return SpecialFiles(
        world_writable=tuple(special(f) for f in sorted(writable)),
        setid=tuple(special(f) for f in sorted(setid)),
        walked=tuple(walked),
        packages_known=owners is not None,
    )
