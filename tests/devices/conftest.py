"""Fixtures borrowed from tests/server: its data folder and app (console tests through the
Flask client). The Devices browser test lives in tests/browser, next to the one Playwright
session it must share (a second sync Playwright in one process refuses to start)."""

from tests.server.conftest import server  # noqa: F401
