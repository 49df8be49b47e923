"""The Linux tools the MSI build runs. A missing one is an error naming the package to install
(the same names are in tests/system-packages.txt)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path


class BuildError(Exception):
    """The MSI cannot be built; the message says why and what to do."""


# tool -> how to get it
PACKAGES = {
    "wixl": "Debian package wixl (apt-get install wixl)",
    "msiinfo": "Debian package msitools (apt-get install msitools)",
    "msibuild": "Debian package msitools (apt-get install msitools)",
    "msidump": "Debian package msitools (apt-get install msitools)",
    "osslsigncode": "Debian package osslsigncode (apt-get install osslsigncode)",
    "uv": "uv from PyPI (pip install uv; it is in the test extra)",
}


def find(tool: str) -> str:
    """The tool's path; for uv, the one beside this interpreter first (the venv's)."""
    if tool == "uv":
        beside = Path(sys.executable).with_name("uv")
        if beside.exists():
            return str(beside)
    found = shutil.which(tool)
    if found is None:
        raise BuildError(f"{tool} is not installed: {PACKAGES.get(tool, tool)}")
    return found


def run(words: Sequence[str], cwd: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = 900) -> str:  # fmt: skip
    """Run a tool; its stdout, or :class:`BuildError` with its stderr."""
    command = [find(words[0]), *words[1:]]
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{words[0]} took longer than {timeout:.0f}s") from exc
    if done.returncode != 0:
        raise BuildError(
            f"{' '.join(words[:3])} failed ({done.returncode}):\n{done.stderr.strip()[-3000:]}"
        )
    return done.stdout
