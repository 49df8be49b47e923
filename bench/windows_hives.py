"""Reading a Windows volume offline: time and peak memory of everything the Windows readers
take from a PC's hives (version, patch level, exposure, Defender, software from the three
Uninstall places and Amcache, accounts, Administrators, weak NT passwords).

    XUNJIAN_WINDOWS_HIVES=../shared/windows-hives .venv/bin/python -m bench.windows_hives

The volume is a planted faulty PC (tests/windows/volumes.py, hives built with hivex) with the
real Amcache in it and the real 15 MB Windows 10 SYSTEM hive read too; each run is a fresh
child process, so its peak resident memory (ru_maxrss) is its own. For comparison, the memory
that opening the real SYSTEM hive adds is printed for regipy's own RegistryHive (which reads
the whole file into memory) and for the memory-mapped Hive: the map is what keeps a 100 MB
SOFTWARE hive affordable.
"""

from __future__ import annotations

import json
import lzma
import multiprocessing
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.windows.hivebuild import shared_hive
from tests.windows.volumes import build_windows_volume

REPEATS = 5


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def _read_everything(root: str) -> dict[str, Any]:
    """Every Windows fact, through the collectors a scan uses."""
    from checks.collectors.windows import facts as windows
    from checks.collectors.windows.exposure import read_exposure
    from checks.collectors.windows.hives import Hive
    from checks.host import HostContext

    started = time.perf_counter()
    host = HostContext.tree(Path(root))
    counts = {
        "updates": len(windows.collect_windows_system(host).cumulative_updates),
        "programs": len(windows.collect_windows_packages(host)),
        "accounts": len(windows.collect_windows_accounts(host).accounts),
        "administrators": len(windows.collect_windows_accounts(host).administrators),
        "weak": len(windows.collect_windows_weak_passwords(host).matches),
        "users": len(windows.collect_windows_desktop(host).users),
    }
    windows.collect_windows_exposure(host)
    windows.collect_windows_defender(host)
    # The real 15 MB SYSTEM hive beside the volume, for a hive of a real PC's size.
    with Hive(Path(root).parent / "SYSTEM_WIN_10_1709") as real_system:
        read_exposure(real_system, None)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": elapsed, "peak_mib": peak_kib / 1024, **counts}


def _regipy_whole_file(path: str) -> dict[str, Any]:
    from regipy.registry import RegistryHive

    before = _rss_mib()
    hive = RegistryHive(path)
    hive.get_key("\\Select")
    return {"growth_mib": _rss_mib() - before}


def _mapped(path: str) -> dict[str, Any]:
    from checks.collectors.windows.hives import Hive

    before = _rss_mib()
    with Hive(Path(path)) as hive:
        hive.key("Select")
        return {"growth_mib": _rss_mib() - before}


def _in_child(function: Any, argument: str) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return dict(pool.apply(function, (argument,)))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "pc"
        build_windows_volume(root, faulty=True)
        real_system = lzma.decompress(shared_hive("SYSTEM_WIN_10_1709.xz").read_bytes())
        system_size = len(real_system)
        programs = root / "Windows" / "AppCompat" / "Programs"
        programs.mkdir(parents=True)
        (programs / "Amcache.hve").write_bytes(
            lzma.decompress(shared_hive("amcache.hve.xz").read_bytes())
        )
        real_path = Path(folder) / "SYSTEM_WIN_10_1709"
        real_path.write_bytes(real_system)
        runs = [_in_child(_read_everything, str(root)) for _ in range(REPEATS)]
        whole = _in_child(_regipy_whole_file, str(real_path))
        mapped = _in_child(_mapped, str(real_path))
    seconds = [run["seconds"] for run in runs]
    print(json.dumps({k: v for k, v in runs[0].items() if k not in ("seconds", "peak_mib")}))
    print("offline read of a Windows volume (SOFTWARE, SYSTEM, SAM, 1 user, Amcache):")
    print(
        f"  median {statistics.median(seconds):.3f} s, max {max(seconds):.3f} s over {REPEATS} "
        f"runs; peak RSS {max(run['peak_mib'] for run in runs):.1f} MiB (whole process)"
    )
    print(f"resident memory added by opening the real {system_size / 2**20:.1f} MiB SYSTEM hive:")
    print(f"  regipy RegistryHive (whole file read): +{whole['growth_mib']:.1f} MiB")
    print(f"  xunjian Hive (memory map):             +{mapped['growth_mib']:.1f} MiB")


if __name__ == "__main__":
    main()
