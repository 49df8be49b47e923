"""The side-by-side of docs/lynis-comparison.md: `python -m tests.checks.lynis_compare OUTDIR`.

Builds the faulty tree and its clean twin with the same real tools the tests use, then runs
`xunjian scan --root` on each, and Lynis's authentication and packages groups (the ones that
overlap) on each. Lynis's --rootdir still reads /etc/shadow, PAM and dpkg from the live system,
so Lynis runs live in a private mount namespace (unshare --mount) where the tree's account,
password-policy and dpkg files are bind-mounted over this host's: the host's own files are never
changed. Then both run on this machine as it is. Prints what each found and how long it took.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.checks.hosttree import clean_tree, faulty_tree, tool
from tests.checks.scan_helpers import REPO

LYNIS_GROUPS = ("authentication", "ports_packages")
# Files bind-mounted from the tree over the host's, in Lynis's private mount namespace.
_BIND_TREE = r"""
set -e
T="$1"; shift
for f in etc/passwd etc/shadow etc/group etc/gshadow etc/login.defs etc/os-release \
         etc/pam.d/common-password; do
  [ -e "$T/$f" ] && mount --bind "$T/$f" "/$f"
done
mkdir -p /etc/security && mount --bind "$T/etc/security" /etc/security
mount --bind "$T/var/lib/dpkg" /var/lib/dpkg
exec "$@"
"""


def _timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    completed = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)
    return time.perf_counter() - started, completed


def _report_items(report: Path) -> list[str]:
    items = []
    for line in report.read_text(errors="replace").splitlines():
        if line.startswith(("warning[]=", "suggestion[]=")):
            kind, _, rest = line.partition("[]=")
            test_id, text = rest.split("|")[:2]
            items.append(f"{kind}: {test_id} {text}")
    return items


def lynis(root: Path | None, out: Path, group: str | None) -> dict[str, object]:
    report = out / f"lynis-{group or 'all'}.dat"
    argv = [
        tool("lynis"),
        "audit",
        "system",
        "--quick",
        "--no-colors",
        "--no-log",
        "--report-file",
        str(report),
    ]
    if group is not None:
        argv += ["--tests-from-group", group]  # Lynis keeps only the last one given
    if root is not None:
        shell = [tool("unshare"), "--mount", "--propagation", "private", "sh", "-c", _BIND_TREE]
        argv = [*shell, "lynis", str(root), *argv]
    seconds, completed = _timed(argv)
    return {
        "seconds": round(seconds, 2),
        "rc": completed.returncode,
        "items": _report_items(report),
    }


def xunjian(root: Path | None) -> dict[str, object]:
    argv = [sys.executable, "-m", "xunjian.cli", "scan", "--json"]
    if root is not None:
        argv += ["--root", str(root)]
    seconds, completed = _timed(argv)
    results = json.loads(completed.stdout)
    return {
        "seconds": round(seconds, 2),
        "fail": sorted(
            f"{r['check_id']} {r['resource']}" for r in results if r["status"] == "fail"
        ),
    }


def main(out: Path) -> int:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    out.chmod(0o755)
    faulty, _expected = faulty_tree(out / "faulty")
    clean = clean_tree(out / "clean")
    figures: dict[str, object] = {}
    for name, root in (("faulty", faulty.root), ("clean", clean.root), ("this host", None)):
        folder = out / f"lynis-{name.replace(' ', '-')}"
        folder.mkdir()
        groups: tuple[str | None, ...] = LYNIS_GROUPS if root is not None else (None,)
        figures[name] = {
            "xunjian": xunjian(root),
            "lynis": {group or "all": lynis(root, folder, group) for group in groups},
        }
    json.dump(figures, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/xunjian-lynis")))
