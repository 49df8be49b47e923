"""The enrollment page's Windows half (docs/windows-deploy.md): the exact msiexec line for a
new token, and the MSI offered for download when the data folder's downloads/ holds one."""

from __future__ import annotations

import html
import re

from flask.testing import FlaskClient

from tests.server.conftest import Server
from tests.server.test_settings_access import admin, one_time_secret, post
from xunjian.core.wire import certificate_sha256

__all__ = ["admin"]  # the fixture, shared with the settings tests
PAGE = "/settings/enrollment-tokens"


def test_a_new_token_comes_with_the_silent_windows_install_line(
    server: Server, admin: FlaskClient
) -> None:
    answer = post(admin, PAGE, PAGE, group="default", uses="5", expires="2h")
    assert answer.status_code == 201
    page = answer.get_data(as_text=True)
    token = one_time_secret(page).split("--token ")[1].split()[0]
    match = re.search(r"data-windows-line>\s*<code[^>]*>([^<]+)<", page)
    assert match, page
    ca = certificate_sha256((server.data / "ca" / "ca.pem").read_bytes())
    assert html.unescape(match.group(1)) == (
        f"msiexec /i xunjian-agent.msi /qn SERVERURL={server.state.config.server_url} "
        f"TOKEN={token} CASHA256={ca}"
    )
    # Shown once: the listing afterwards has neither line.
    listing = admin.get(PAGE).get_data(as_text=True)
    assert "msiexec" not in listing and token not in listing


def test_the_msi_is_offered_only_when_there_is_one(server: Server, admin: FlaskClient) -> None:
    assert "xunjian-agent.msi" not in admin.get(PAGE).get_data(as_text=True)
    assert admin.get(f"{PAGE}/xunjian-agent.msi").status_code == 404
    downloads = server.data / "downloads"
    downloads.mkdir()
    (downloads / "xunjian-agent-0.1.0-x64.msi").write_bytes(b"\xd0\xcf\x11\xe0 an MSI")
    page = admin.get(PAGE).get_data(as_text=True)
    assert 'href="/settings/enrollment-tokens/xunjian-agent.msi"' in page
    assert "xunjian-agent-0.1.0-x64.msi" in page
    answer = admin.get(f"{PAGE}/xunjian-agent.msi")
    assert answer.status_code == 200
    assert answer.data == b"\xd0\xcf\x11\xe0 an MSI"
    assert "xunjian-agent.msi" in answer.headers["Content-Disposition"]
    # Not for a signed-out visitor.
    assert server.client().get(f"{PAGE}/xunjian-agent.msi").status_code in (302, 401, 403)
