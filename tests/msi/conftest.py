"""The MSI, built once per test session (about 25 s; the downloads are cached in
~/.cache/xunjian/msi, so only the first build on a machine needs the network)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from xunjian.msi.tools import PACKAGES

ROOT = Path(__file__).resolve().parents[2]


def require_tool(tool: str) -> str:
    """The tool's path, or a failure naming the package (never a skip: a missing tool is a
    machine to fix, tests/system-packages.txt)."""
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is missing: install the {PACKAGES.get(tool, tool)}")
    return found


@pytest.fixture(scope="session")
def built_msi(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from xunjian.msi.build import build

    for tool in ("wixl", "msibuild", "msiinfo", "osslsigncode"):
        require_tool(tool)
    return build(ROOT, tmp_path_factory.mktemp("msi")).path
