"""The agent's packages for Windows: xunjian's own wheel and its dependencies as win_amd64
wheels, resolved FOR Windows by uv (``--python-platform x86_64-pc-windows-msvc``): pip's
``--platform`` evaluates markers for the building host and so drops ``pywin32;
sys_platform == "win32"``. uv's cache makes later builds offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from xunjian.msi.tools import BuildError, run

WINDOWS_PLATFORM = "x86_64-pc-windows-msvc"
# What the agent never loads on Windows: the server (in the same wheel), and pywin32's
# IDE, COM extensions, ISAPI, ADO, help file, demos and tests.
PRUNE = (
    "server",
    "pythonwin",
    "adodbapi",
    "isapi",
    "win32comext",
    "PyWin32.chm",
    "win32/Demos",
    "win32/test",
    "win32com/demos",
    "win32com/test",
    "bin",
    ".lock",  # uv's, not a file the agent reads
)


def _uv_env(cache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["UV_CACHE_DIR"] = str(cache / "uv")
    return env


def build_wheel(source: Path, out: Path, cache: Path) -> Path:
    """xunjian's wheel from the checkout (pure Python: one wheel for every platform)."""
    shutil.rmtree(out, ignore_errors=True)
    run(["uv", "build", "--wheel", "--out-dir", str(out), str(source)], env=_uv_env(cache))
    (wheel,) = out.glob("xunjian-*.whl")
    return wheel


def _uv_for_windows(words: list[str], cache: Path, python: str) -> str:
    base = ["--python-platform", WINDOWS_PLATFORM, "--python-version", python]
    try:  # offline first: after one build, everything is in uv's cache
        return run([*words, *base, "--offline"], env=_uv_env(cache))
    except BuildError:
        return run([*words, *base], env=_uv_env(cache))


def install_for_windows(source: Path, wheel: Path, target: Path, cache: Path,
                        python: str = "3.11") -> list[str]:  # fmt: skip
    """Resolve the agent's dependencies for Windows and install them, binary wheels only, into
    ``target`` (the runtime's Lib\\site-packages); returns the pinned requirement lines."""
    requirements = cache / "requirements-windows.txt"
    _uv_for_windows(
        ["uv", "pip", "compile", str(source / "pyproject.toml"), "--no-header",
         "--no-annotate", "-o", str(requirements)],
        cache, python,
    )  # fmt: skip
    _uv_for_windows(
        ["uv", "pip", "install", "--target", str(target), "--only-binary", ":all:",
         "--no-deps", "-r", str(requirements), str(wheel)],
        cache, python,
    )  # fmt: skip
    for name in PRUNE:
        path = target / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    pins = [line for line in requirements.read_text().splitlines() if "==" in line]
    if not any(line.startswith("pywin32==") for line in pins):
        raise BuildError("the resolution for Windows lacks pywin32: was it resolved for Linux?")
    return pins
