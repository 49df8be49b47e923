"""Fixtures for the monitor tests: the server's data folder and app (tests/server/conftest.py)
and real loopback web sites (tests/monitors/site.py)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.monitors.site import Site, home, make_certificate
from tests.server.conftest import Server, agent, server  # noqa: F401  (fixtures)

# The sites these tests watch run on 127.0.0.1, which a server refuses to fetch unless an
# admin allows it: these tests allow it the way an admin would, in config.json.
LOOPBACK_ALLOWED = {"monitor_allowed_networks": ["127.0.0.0/8"]}


@pytest.fixture
def server_settings() -> dict[str, Any]:
    return dict(LOOPBACK_ALLOWED)


@pytest.fixture
def site() -> Iterator[Site]:
    running = Site()
    running.serve("/", home())
    yield running
    running.close()


@pytest.fixture
def expired_certificate(tmp_path: Path) -> tuple[Path, Path]:
    now = datetime.datetime.now(datetime.UTC)
    return make_certificate(
        tmp_path / "expired", now - datetime.timedelta(days=60), now - datetime.timedelta(days=1)
    )


@pytest.fixture
def tls_site(expired_certificate: tuple[Path, Path]) -> Iterator[Site]:
    running = Site(expired_certificate)
    running.serve("/", home())
    yield running
    running.close()


__all__ = ["Server"]
