"""The whole build: runtime + packages staged into one install folder, precompiled, turned into
``xunjian-agent-VERSION-x64.msi`` by wixl (docs/windows-deploy.md)."""

from __future__ import annotations

import compileall
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from xunjian import __version__
from xunjian.msi import runtime, wheels, wxs
from xunjian.msi.tools import BuildError, run


@dataclass(frozen=True)
class BuiltMsi:
    path: Path
    version: str
    files: int
    signed: tuple[str, ...]  # the runtime files whose PSF signature was verified
    requirements: tuple[str, ...]


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "xunjian" / "msi"


def msi_version(version: str) -> str:
    """MSI ProductVersion: three numbers (a local or pre-release tail does not fit)."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if match is None:
        raise BuildError(f"version {version!r} does not start with numbers")
    return ".".join(part or "0" for part in match.groups())


def stage(source: Path, folder: Path, cache: Path) -> tuple[list[str], list[str]]:
    """The install folder as it will be on the PC: ``python/`` with the runtime and, in its
    Lib\\site-packages, the agent and its dependencies, compiled ahead (unchecked-hash .pyc:
    Windows Installer does not keep source timestamps, and the service runs with -B)."""
    shutil.rmtree(folder, ignore_errors=True)
    python = folder / "python"
    sdist = runtime.fetch_sdist(cache)
    runtime.extract(sdist, python)
    signed = runtime.verify_signatures(python)
    runtime.enable_site_packages(python)
    wheel = wheels.build_wheel(source, folder.parent / "wheel", cache)
    site = python / "Lib" / "site-packages"
    pins = wheels.install_for_windows(source, wheel, site, cache)
    compileall.compile_dir(
        site, quiet=2, workers=1,
        invalidation_mode=compileall.py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )  # fmt: skip
    return signed, pins


def build(source: Path, out: Path, cache: Path | None = None) -> BuiltMsi:
    """Build the MSI into ``out``; ``cache`` keeps the downloads (default ~/.cache/xunjian/msi)."""
    cache = cache or default_cache()
    version = msi_version(__version__)
    work = out / "msi-build"
    folder = work / "agent"
    signed, pins = stage(source, folder, cache)
    source_file = work / "xunjian-agent.wxs"
    source_file.write_text(wxs.render(folder, version), encoding="utf-8")
    target = out / f"xunjian-agent-{version}-x64.msi"
    run(["wixl", "-a", "x64", "-o", str(target), str(source_file)], cwd=work)
    codepage = work / "_ForceCodepage.idt"
    codepage.write_text(wxs.codepage_idt(), encoding="ascii", newline="")
    run(["msibuild", str(target), "-i", str(codepage)])
    for query in wxs.post_queries():
        run(["msibuild", str(target), "-q", query])
    files = sum(1 for path in folder.rglob("*") if path.is_file())
    shutil.rmtree(work, ignore_errors=True)
    return BuiltMsi(target, version, files, tuple(signed), tuple(pins))
