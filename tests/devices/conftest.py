"""Fixtures borrowed from the other suites: tests/server's data folder and app (console tests
through the Flask client), and tests/browser's real server and Chromium (the browser test)."""

from tests.browser.conftest import (  # noqa: F401
    browser,
    console_server,
    playwright_session,
    screenshot,
)
from tests.server.conftest import server  # noqa: F401
