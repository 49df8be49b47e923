"""Fixtures for the incident tests: the server's data folder and app, an enrolled agent
(tests/server/conftest.py), and a real webhook receiver on 127.0.0.1
(tests/server/test_alerts_delivery.py)."""

from __future__ import annotations

from tests.server.conftest import Server, agent, server  # noqa: F401  (fixtures)
from tests.server.test_alerts_delivery import receiver  # noqa: F401  (fixture)

__all__ = ["Server"]
