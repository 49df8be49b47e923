"""systemd units: whether one starts at boot, read from the unit folders (no systemctl)."""

from __future__ import annotations

import os

from checks.host import HostContext

UNIT_DIRS = ("/etc/systemd/system",)


def unit_enabled(host: HostContext, unit: str) -> bool:
    """Enabled in systemd's sense: a *.wants link to the unit exists."""
    for folder in UNIT_DIRS:
        base = host.path(folder)
        wants = [d for d in base.glob("*.wants")] if base.is_dir() else []
        # lexists: in a tree the link points at a path of the tree's host, not of this one.
        if any(os.path.lexists(d / unit) for d in wants):
            return True
    return False
