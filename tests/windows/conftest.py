"""Real hives from ../shared/windows-hives, decompressed into each test session's temp folder."""

from __future__ import annotations

import lzma
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.windows.hivebuild import shared_hive


@pytest.fixture(scope="session")
def real_hive(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    folder = tmp_path_factory.mktemp("real-hives")

    def open_copy(name: str) -> Path:
        target = folder / name
        if not target.exists():
            source = shared_hive(f"{name}.xz")
            target.write_bytes(lzma.decompress(source.read_bytes()))
        return target

    return open_copy
