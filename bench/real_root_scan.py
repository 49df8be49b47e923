"""A full `xunjian scan --root` of a real Debian 12 root made faulty by hand (issue 12).

    .venv/bin/python -m bench.real_root_scan   # as root; builds the debootstrap cache if missing

The root is tests/checks/debroot.py's (debootstrap, cached under ~/.cache/xunjian), with the
faults of tests/checks/debroot_faults.py planted in chroot and nine more accounts with strong
passwords (chpasswd, yescrypt), so ten accounts carry a hash. Each scan runs every check in a
fresh child process, as `xunjian scan` does, and is timed wall and CPU (the children's). Three
kinds: with no state folder (`xunjian scan --root`: every hash tested against every
candidate); the agent's first scan (an empty state folder each run: the slow hashes get their
share of SLOW_CANDIDATES_PER_SCAN, the rest left to the next scans); and the agent's later
scans (the state folder kept, every verdict remembered).
Figures go to docs/PERFORMANCE.md ("A real Debian root").
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.checks.debroot import unpack
from tests.checks.debroot_faults import chroot, plant

REPEATS = 3
# The issue's target host: ten accounts with passwords (yescrypt, Debian 12's default). The
# planted teacher is one; nine staff accounts with strong random passwords make the rest.
STAFF = 9
_SCAN = """
import json, sys
from pathlib import Path
from checks.api import run_scan
cache = Path(sys.argv[2]) if sys.argv[2] else None
results = run_scan(json.loads(sys.argv[3]), root=Path(sys.argv[1]), cache=cache)
print(json.dumps([r for r in results if r["status"] == "fail"]))
"""


def _scan(root: Path, cache: Path | None, policy: dict[str, Any]) -> tuple[float, float, int]:
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _SCAN, str(root), str(cache or ""), json.dumps(policy)],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, len(json.loads(done.stdout))


def main() -> None:
    top = Path(tempfile.mkdtemp(prefix="xunjian-bench-root-"))
    try:
        started = time.perf_counter()
        root = unpack(top / "root")
        unpack_seconds = time.perf_counter() - started
        started = time.perf_counter()
        planted, policy = plant(root)
        for number in range(STAFF):
            chroot(root, "useradd", "-m", "-s", "/bin/bash", f"staff{number}")
        lines = "".join(f"staff{n}:{secrets.token_urlsafe(12)}\n" for n in range(STAFF))
        chroot(root, "chpasswd", stdin=lines)
        plant_seconds = time.perf_counter() - started
        accounts = sum(1 for line in (root / "etc/shadow").read_text().splitlines() if ":$" in line)
        figures: dict[str, Any] = {
            "unpack_s": round(unpack_seconds, 2),
            "plant_s": round(plant_seconds, 2),
            "hashed_accounts": accounts,
            "planted_faults": len(planted),
            "cpus": os.cpu_count(),
        }
        kept = top / "state"
        for label in ("no_state_folder", "agent_first_scan", "agent_later_scans"):
            if label == "agent_later_scans":
                # The scans that fill the state folder: until every candidate was tried.
                for _ in range(10):
                    _scan(root, kept, policy)
            runs = []
            for number in range(REPEATS):
                if label == "no_state_folder":
                    cache = None
                elif label == "agent_first_scan":
                    cache = top / f"first-{number}"
                else:
                    cache = kept
                runs.append(_scan(root, cache, policy))
            figures[label] = {
                "wall_s_median": round(statistics.median(r[0] for r in runs), 2),
                "cpu_s_median": round(statistics.median(r[1] for r in runs), 2),
                "failures": runs[0][2],
            }
        print(json.dumps(figures, indent=2))
    finally:
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
