"""Host trees shared by the checks tests; built once per session because real tools are slow."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.checks.hosttree import HostTree, clean_tree, faulty_tree


def _require_root() -> None:
    if os.geteuid() != 0:
        pytest.fail("building host trees runs useradd/pwconv --root, which chroot: run as root")


@pytest.fixture(scope="session")
def trees_dir() -> Iterator[Path]:
    # World-traversable, unlike pytest's tmp folders, so a test can scan as the nobody account.
    path = Path(tempfile.mkdtemp(prefix="xunjian-trees-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def clean(trees_dir: Path) -> HostTree:
    _require_root()
    return clean_tree(trees_dir / "clean")


@pytest.fixture(scope="session")
def faulty(trees_dir: Path) -> tuple[HostTree, set[tuple[str, str]]]:
    _require_root()
    return faulty_tree(trees_dir / "faulty")
