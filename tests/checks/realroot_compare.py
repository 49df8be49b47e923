"""xunjian, Lynis and OpenSCAP side by side on the real Debian root (docs/lynis-comparison.md).

    .venv/bin/python -m tests.checks.realroot_compare [OUTDIR]    # as root

Unpacks the cached debootstrap root (tests/checks/debroot.py), runs each auditor on it as
debootstrap left it, plants the faults of tests/checks/debroot_faults.py with the real tools
in chroot, and runs each again; what an auditor reports after and not before is what it found
of the planted faults. Prints the figures as JSON.

* xunjian: `xunjian scan --root ROOT --json` (every check, defaults, the same policy as the
  tests: only root administers, the new admin's key approved).
* Lynis (Debian's package): a full `lynis audit system --quick` run *inside* the root
  (chroot), so every test reads the root's own files and asks the root's own dpkg; Lynis's
  program and database are bind-mounted in read-only, /proc is a private one (its own PID
  namespace), all in a private mount namespace that ends with the run.
* OpenSCAP (Debian's openscap-scanner and ssg-debian): `oscap xccdf eval` with its probes
  rooted in ROOT (OSCAP_PROBE_ROOT, as oscap-chroot does), the SCAP Security Guide's newest
  Debian data stream and its standard profile; a rule "fail" counts.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.checks.debroot import unpack
from tests.checks.debroot_faults import plant
from tests.checks.lynis_compare import _report_items
from tests.checks.scan_helpers import REPO

# Only root administers this server, as in test_debroot.py.
POLICY = {"accounts.admin_members": {"params": {"approved_admins": ["root"]}}}
# Lynis inside the root: its files bound in, a private /proc, then chroot.
_LYNIS_IN_ROOT = r"""
set -e
R="$1"; shift
mkdir -p "$R/usr/share/lynis" "$R/etc/lynis"
touch "$R/usr/sbin/lynis"
mount --bind -o ro /usr/share/lynis "$R/usr/share/lynis"
mount --bind -o ro /etc/lynis "$R/etc/lynis"
mount --bind -o ro /usr/sbin/lynis "$R/usr/sbin/lynis"
mount -t proc proc "$R/proc"
exec chroot "$R" "$@"
"""
SSG_DATA_STREAMS = ("ssg-debian12-ds.xml", "ssg-debian11-ds.xml")
SSG_DIR = Path("/usr/share/xml/scap/ssg/content")


def _timed(argv: list[str], **extra: Any) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=REPO, **extra)
    return time.perf_counter() - started, done


def xunjian(root: Path, policy: dict[str, Any]) -> dict[str, Any]:
    argv = [sys.executable, "-m", "xunjian.cli", "scan", "--json", "--root", str(root)]
    policy_file = root.parent / "policy.json"
    policy_file.write_text(json.dumps({"checks": policy}))
    seconds, done = _timed([*argv, "--policy", str(policy_file)])
    results = json.loads(done.stdout)
    failed = sorted(f"{r['check_id']} {r['resource']}" for r in results if r["status"] == "fail")
    return {"seconds": round(seconds, 2), "items": failed}


def lynis(root: Path) -> dict[str, Any]:
    report = "/var/tmp/lynis-report.dat"
    argv = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "sh",
        "-c",
        _LYNIS_IN_ROOT,
        "lynis",
        str(root),
        "/usr/sbin/lynis",
        "audit",
        "system",
        "--quick",
        "--no-colors",
        "--no-log",
        "--report-file",
        report,
    ]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
    seconds, done = _timed(argv, env=env)
    path = root / report.lstrip("/")
    items = _report_items(path) if path.exists() else [f"error: {done.stderr[-500:]}"]
    return {"seconds": round(seconds, 2), "rc": done.returncode, "items": items}


def openscap(root: Path, out: Path) -> dict[str, Any] | None:
    stream = next((SSG_DIR / n for n in SSG_DATA_STREAMS if (SSG_DIR / n).exists()), None)
    if shutil.which("oscap") is None or stream is None:
        return None
    results = out / f"oscap-{int(time.time() * 1000)}.xml"
    argv = [
        "oscap",
        "xccdf",
        "eval",
        "--profile",
        "xccdf_org.ssgproject.content_profile_standard",
        "--results",
        str(results),
        str(stream),
    ]
    # What oscap-chroot does: the probes read the files under OSCAP_PROBE_ROOT.
    seconds, done = _timed(argv, env={"OSCAP_PROBE_ROOT": str(root), "PATH": "/usr/bin:/bin"})
    text = results.read_text(errors="replace") if results.exists() else ""
    outcomes = re.findall(
        r'<rule-result idref="([^"]+)"[^>]*>.*?<result>(\w+)</result>', text, re.S
    )
    counts: dict[str, int] = {}
    for _, outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return {
        "seconds": round(seconds, 2),
        "rc": done.returncode,
        "data_stream": stream.name,
        "results": counts,
        "items": sorted(rule for rule, outcome in outcomes if outcome == "fail"),
    }


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    top = Path(tempfile.mkdtemp(prefix="xunjian-compare-"))
    try:
        root = unpack(top / "root")
        figures: dict[str, Any] = {}
        stock = {
            "xunjian": xunjian(root, POLICY),
            "lynis": lynis(root),
            "openscap": openscap(root, out),
        }
        planted, policy = plant(root)
        faulty = {
            "xunjian": xunjian(root, {**POLICY, **policy}),
            "lynis": lynis(root),
            "openscap": openscap(root, out),
        }
        for name in ("xunjian", "lynis", "openscap"):
            before, after = stock[name], faulty[name]
            if before is None or after is None:
                figures[name] = None
                continue
            figures[name] = {
                "results_faulty": after.get("results"),
                "seconds_stock": before["seconds"],
                "seconds_faulty": after["seconds"],
                "count_stock": len(before["items"]),
                "count_faulty": len(after["items"]),
                "new_after_faults": sorted(set(after["items"]) - set(before["items"])),
                "gone_after_faults": sorted(set(before["items"]) - set(after["items"])),
                "items_stock": before["items"],
            }
        figures["planted"] = sorted(f"{c} {r}" for c, r in planted)
        (out / "realroot-compare.json").write_text(json.dumps(figures, indent=2))
        json.dump(figures, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/xunjian-realroot-compare")))
