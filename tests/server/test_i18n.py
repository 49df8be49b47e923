"""Console languages: the catalogs are complete and compiled, and each request gets the
language its person chose, else the browser's, else config.json's."""

from __future__ import annotations

import datetime

import pytest
from flask import Flask

from server.app import create_app
from server.console.i18n import localtime, main, problems
from tests.console_text import text
from tests.server.conftest import Server

LOGIN_FAILED_EN = (
    "Login failed. Check the name and password; after repeated failures, wait a while."
)


def test_every_catalog_is_translated_and_compiled() -> None:
    found = list(problems())
    assert found == [], "\n".join(found) + "\n(see python -m server.console.i18n)"


def test_check_command_exit_status() -> None:
    assert main(["check"]) == 0
    assert main(["nonsense"]) == 2


def _login_page(server: Server, **headers: str) -> str:
    answer = server.client().get("/login", headers=headers)
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def test_browser_language_decides(server: Server) -> None:
    assert f"<h1>{text('Log in')}</h1>" in _login_page(server, **{"Accept-Language": "zh-CN"})
    assert "<h1>Log in</h1>" in _login_page(server, **{"Accept-Language": "en-US,en;q=0.9"})
    # A language the console does not have: the configured default (zh in a new data folder).
    assert f"<h1>{text('Log in')}</h1>" in _login_page(server, **{"Accept-Language": "fr"})


def test_configured_default_without_accept_language(server: Server) -> None:
    assert f"<h1>{text('Log in')}</h1>" in _login_page(server)
    english = create_app(server.data, {"console_language": "en"})
    try:
        page = english.test_client().get("/login").get_data(as_text=True)
    finally:
        english.extensions["xunjian"].engine.dispose()
    assert "<h1>Log in</h1>" in page


def test_switch_is_kept_in_the_session(server: Server) -> None:
    client = server.client()
    answer = client.get("/language/en?next=/login", headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    page = client.get("/login", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<h1>Log in</h1>" in page
    refused = client.post(
        "/login", data={"name": "x", "password": "y"}, headers={"Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 400  # no CSRF token: refused, and in English
    assert "CSRF" in refused.get_data(as_text=True)
    client.get("/language/zh_CN")
    assert f"<h1>{text('Log in')}</h1>" in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "\\\\x"])
def test_switch_never_redirects_off_site(server: Server, target: str) -> None:
    answer = server.client().get("/language/en", query_string={"next": target})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/"


def test_unknown_language_is_404(server: Server) -> None:
    assert server.client().get("/language/fr").status_code == 404


# The test reads times in Shanghai; the default is the machine's own zone (issue 13 item 6).
@pytest.mark.parametrize("server_settings", [{"console_timezone": "Asia/Shanghai"}])
def test_times_are_shown_in_the_console_zone(server: Server) -> None:
    app: Flask = server.app
    moment = datetime.datetime(2026, 11, 23, 18, 5, 9)  # stored: naive UTC
    with app.app_context():
        assert localtime(moment) == "2026-11-24 02:05"  # Asia/Shanghai, the default
        assert localtime(moment.isoformat(), with_seconds=True) == "2026-11-24 02:05:09"
        assert localtime(None) == ""
