"""The MSI, built once per test session (about 25 s; the downloads are cached in
~/.cache/xunjian/msi, so only the first build on a machine needs the network)."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

# The agent tests' scripted HTTPS server, for the service's enrollment and stop tests
# (test_windows_service.py); test_msi_wine.py's ``server`` is a real one of its own.
from tests.agent.conftest import api, ca, server  # noqa: F401  (fixtures)
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
def built_msi(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One build per run: under pytest-xdist the first worker builds into the run's shared
    temporary folder while the others wait on a lock and read the same file (each worker
    building its own cost about 30 s of CPU apiece)."""
    from xunjian.msi.build import build

    for tool in ("wixl", "msibuild", "msiinfo", "osslsigncode"):
        require_tool(tool)
    if worker_id == "master":  # not under xdist: this session's own folder
        return build(ROOT, tmp_path_factory.mktemp("msi")).path
    shared = tmp_path_factory.getbasetemp().parent / "msi-shared"  # this run's, all workers
    shared.mkdir(exist_ok=True)
    with (shared / "lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / "built-path"
        if not built.exists():
            output = shared / "out"
            output.mkdir()
            built.write_text(str(build(ROOT, output).path))
        return Path(built.read_text())
