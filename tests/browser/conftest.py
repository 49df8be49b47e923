"""A real Chromium against a real ``xunjian server run``, trusting the product's own CA.

Trust is the honest path: each test's browser gets a fresh ``$HOME`` whose NSS database
(``$HOME/.pki/nssdb``, where Chromium on Linux keeps its user trust store) holds the server's
``DATA/ca/ca.pem`` as a trusted CA, made with ``certutil``. Nothing ignores certificate errors;
``test_a_browser_without_the_ca_refuses_the_server`` proves the trust is doing the work.

Chromium is Debian's headless build of it (``apt-get install chromium-headless-shell``), the
same Blink, V8, network stack and certificate verifier as ``/usr/bin/chromium`` without the
desktop browser around them (which a headless run never shows), and what Playwright itself runs
for headless Chromium. It costs a quarter of the CPU per page: a new context with one page,
0.14 s against 0.56 s; a launch 0.31 s against 0.96 s; the 21 browser tests 86 s against 153 s
(docs/PERFORMANCE.md, "Test suite", seventh pass). ``XUNJIAN_CHROMIUM=/usr/bin/chromium`` runs
them in the desktop build; both pass. ``playwright install`` is never needed.
Each run saves full-page screenshots of the main pages in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ServerUnderTest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("XUNJIAN_CHROMIUM", "/usr/bin/chromium-headless-shell")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Low, so the lockout test needs few tries; the server's own default is 5.
LOGIN_MAX_FAILURES = 3


def _require_chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"the browser tests need Chromium at {CHROMIUM}: apt-get install "
            "chromium-headless-shell (or XUNJIAN_CHROMIUM=/usr/bin/chromium)",
            pytrace=False,
        )
    return CHROMIUM


def _require_certutil() -> str:
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail(
            "the browser tests add the product's CA to an NSS database with certutil: "
            "apt-get install libnss3-tools",
            pytrace=False,
        )
    return certutil


def _playwright_module():  # type: ignore[no-untyped-def]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need playwright: pip install -e '.[server,test]'")
    return sync_playwright


def browser_home(root: Path, ca_pem: Path | None) -> Path:
    """A fresh home folder for Chromium; with ``ca_pem``, its NSS db trusts that CA only."""
    nssdb = root / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    if ca_pem is not None:
        certutil = _require_certutil()
        for words in (
            ["-N", "--empty-password"],
            ["-A", "-n", "xunjian test CA", "-t", "C,,", "-i", str(ca_pem)],
        ):
            done = subprocess.run(
                [certutil, "-d", f"sql:{nssdb}", *words],
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, f"certutil {words[0]} failed: {done.stdout}{done.stderr}"
    return root


def browser_environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("XDG_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        LANG="zh_CN.UTF-8",
    )
    return env


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[object]:
    _require_chromium()
    sync_playwright = _playwright_module()
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def console_server(
    database_url: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    data_folder_templates: object,
) -> Iterator[ServerUnderTest]:
    """A real server; tests may pass config through ``@pytest.mark.server_config(...)``."""
    under_test = ServerUnderTest(tmp_path / "server", database_url=database_url)
    under_test.init_copy(data_folder_templates)
    config = {
        "heartbeat_interval_seconds": 1,
        "scan_interval_seconds": 5,
        "login_max_failures": LOGIN_MAX_FAILURES,
    }
    marker = request.node.get_closest_marker("server_config")
    if marker is not None:
        config.update(marker.kwargs)
    under_test.set_config(**config)
    under_test.start()
    try:
        yield under_test
    finally:
        under_test.stop()


def launch(playwright: object, home: Path):  # type: ignore[no-untyped-def]
    """Chromium with a fresh profile (Playwright makes a new user data dir per launch)."""
    return playwright.chromium.launch(  # type: ignore[attr-defined]
        executable_path=_require_chromium(),
        args=CHROMIUM_ARGS,
        env=browser_environment(home),
        headless=True,
    )


@pytest.fixture
def browser(
    playwright_session: object, console_server: ServerUnderTest, tmp_path: Path
) -> Iterator[object]:
    home = browser_home(tmp_path / "browser-home", console_server.data / "ca" / "ca.pem")
    instance = launch(playwright_session, home)
    try:
        yield instance
    finally:
        instance.close()


def _require_chinese_font() -> None:
    """Without a CJK font the screenshots show boxes instead of Chinese: useless to look at."""
    fc_list = shutil.which("fc-list")
    found = ""
    if fc_list is not None:
        found = subprocess.run(
            [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False
        ).stdout
    if "Noto Sans CJK SC" not in found:
        pytest.fail(
            "the console's screenshots need a Chinese font: apt-get install fonts-noto-cjk",
            pytrace=False,
        )


@pytest.fixture
def screenshot(database_url: str):  # type: ignore[no-untyped-def]
    """``screenshot(page, "hosts")`` saves a full-page PNG (named per database) and returns it."""
    _require_chinese_font()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    suffix = (
        "" if database_url.startswith("sqlite") else "-" + database_url.split(":")[0].split("+")[0]
    )

    def take(page: object, name: str) -> Path:
        path = SCREENSHOTS / f"{name}{suffix}.png"
        page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
        assert path.stat().st_size > 0
        return path

    return take


def first_login(page: Any, server: ServerUnderTest, name: str, one_time: str, new: str) -> None:
    """Log ``name`` in with a one-time password (the first admin's, or one that
    ``xunjian server user add`` printed) and get past the forced change to ``new``, as a
    person does: the login form, then the password form."""
    page.goto(server.local_url + "/login")
    page.locator("input[name=name]").fill(name)
    page.locator("input[name=password]").fill(one_time)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert page.url == server.local_url + "/password", page.url
    for field, value in (
        ("current_password", one_time),
        ("new_password", new),
        ("confirm_password", new),
    ):
        page.locator(f"input[name={field}]").fill(value)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert not page.url.endswith(("/password", "/login")), page.url


def first_admin_page(browser: Any, server: ServerUnderTest, password: str, **options: Any) -> Any:
    """A Chinese browser context (1280 x 900) with the first admin logged in past the forced
    password change; the caller closes the returned page's context."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}, **options
    )
    page = context.new_page()
    page.set_default_timeout(30_000)
    initial = (server.data / "initial-admin-password").read_text().strip()
    first_login(page, server, "admin", initial, password)
    return page


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "server_config(**values): config.json values for the browser test's server"
    )
