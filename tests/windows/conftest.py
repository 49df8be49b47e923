"""Real hives from ../shared/windows-hives, decompressed into each test session's temp folder;
the planted faulty PC and its clean twin (tests/windows/volumes.py), built once a session."""

from __future__ import annotations

import lzma
from collections.abc import Callable
from pathlib import Path

import pytest

from checks.collectors.windows.volume import WindowsVolume
from tests.windows.hivebuild import shared_hive
from tests.windows.volumes import build_windows_volume


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


@pytest.fixture(scope="session")
def volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, WindowsVolume]:
    """{faulty: volume} for the planted faulty PC (True) and its clean twin (False)."""
    return {
        faulty: WindowsVolume(
            build_windows_volume(tmp_path_factory.mktemp(f"pc-{faulty}"), faulty=faulty).root
        )
        for faulty in (True, False)
    }
