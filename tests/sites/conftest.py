"""Fixtures for the site health tests: the server's data folder and app (tests/server/conftest.py)
and the generated school site on loopback (tests/sites/school.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Server, agent, server  # noqa: F401  (fixtures)
from tests.sites.school import SchoolSite

# The school site runs on 127.0.0.1, which a server refuses to fetch unless an admin allows
# it: these tests allow it the way an admin would, in config.json (as the monitor tests do).
LOOPBACK_ALLOWED = {"monitor_allowed_networks": ["127.0.0.0/8"]}


@pytest.fixture
def server_settings() -> dict[str, Any]:
    return dict(LOOPBACK_ALLOWED)


@pytest.fixture
def school(tmp_path: Path) -> Iterator[SchoolSite]:
    running = SchoolSite(tmp_path / "school-ca")
    yield running
    running.close()


__all__ = ["Server"]
