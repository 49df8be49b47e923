"""The console's Monitors pages: list with state, uptime and the SVG chart; adding through the
form; the two-person acceptance through the buttons; maintenance; roles; the word list."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from server.store.accounts import create_user
from tests.console_text import text
from tests.monitors.helpers import alerts, monitor, probe
from tests.monitors.site import DEFACED, Site
from tests.server.conftest import Server
from tests.server.test_console import NEW_PASSWORD, change_password, csrf_from, log_in


def person(server: Server, name: str, role: str) -> FlaskClient:
    with server.state.sessions() as session:
        create_user(session, name, role, "First-pass-2026!")
        session.commit()
    client = server.client()
    assert log_in(client, name, "First-pass-2026!") == 302
    assert change_password(client, "First-pass-2026!", NEW_PASSWORD) == 302
    client.set_cookie("lang", "en")
    return client


def form(client: FlaskClient, path: str, page: str, language: str = "en", **fields: str):
    return client.post(
        path,
        data={**fields, "csrf_token": csrf_from(client, page)},
        headers={"Accept-Language": language},
    )


def page(client: FlaskClient, path: str, language: str = "en") -> str:
    answer = client.get(path, headers={"Accept-Language": language})
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def test_monitors_pages_end_to_end(server: Server, site: Site) -> None:
    olga = person(server, "olga", "operator")
    adam = person(server, "adam", "admin")
    audrey = person(server, "audrey", "auditor")

    added = form(
        olga,
        "/monitors",
        "/monitors",
        url=site.url(),
        name="School home",
        interval_seconds="60",
        volatile_selectors="#counter\n.updated",
        max_ms="",
    )
    assert added.status_code == 303
    monitor_id = int(re.search(r"/monitors/(\d+)", added.headers["Location"]).group(1))
    assert monitor(server, monitor_id)["volatile_selectors"] == ["#counter", ".updated"]
    probe(server, monitor_id, times=2)

    listing = page(audrey, "/monitors")
    assert "School home" in listing and "mon-state-up" in listing
    assert "100.00%" in listing
    assert 'class="mon-bar-up"' in listing  # the 24-hour chart, drawn on the server
    assert 'name="url"' not in listing  # an auditor sees no add form
    assert "<script" not in listing
    assert page(audrey, "/monitors", "zh-CN").count(text("Monitors")) >= 2  # nav and title

    refused = audrey.post(
        "/monitors", data={"url": site.url(), "csrf_token": csrf_from(audrey, "/monitors")}
    )
    assert refused.status_code == 403

    site.serve("/", DEFACED)
    probe(server, monitor_id)
    detail_path = f"/monitors/{monitor_id}"
    detail = page(olga, detail_path)
    assert "+Hacked by Anonymous" in detail and "mon-alert" in detail
    assert form(olga, f"{detail_path}/propose", detail_path, note="restored?").status_code == 303
    detail = page(olga, detail_path)
    proposal_id = int(re.search(r"/proposals/(\d+)/approve", page(adam, detail_path)).group(1))
    assert "/approve" not in detail  # the proposer gets no approve button ...
    approve = f"{detail_path}/proposals/{proposal_id}/approve"
    assert form(olga, approve, detail_path).status_code == 403  # ... nor may post it
    assert form(adam, approve, detail_path).status_code == 303
    assert monitor(server, monitor_id)["baseline"]["accepted_by"] == "olga + adam"
    assert alerts(server, "tamper")[0]["status"] == "resolved"

    site.remove("/")
    assert form(olga, f"{detail_path}/maintenance", detail_path, hours="2").status_code == 303
    assert monitor(server, monitor_id)["in_maintenance"] is True
    probe(server, monitor_id, times=4)
    assert monitor(server, monitor_id)["state"] == "down"
    assert alerts(server, "down") == []

    saved = form(
        olga, detail_path, detail_path, url=site.url(), name="Renamed", interval_seconds="4"
    )
    assert saved.status_code == 400
    assert monitor(server, monitor_id)["name"] == "School home"

    words = form(adam, "/monitors/words", "/monitors", words="hacked by\n被黑\n")
    assert words.status_code == 303
    assert form(olga, "/monitors/words", "/monitors", words="x").status_code == 403
    assert "被黑" in page(audrey, "/monitors")

    assert form(olga, f"{detail_path}/delete", detail_path).status_code == 303
    assert olga.get(detail_path).status_code == 404


def test_the_forms_bounds_come_from_the_settings_model(server: Server) -> None:
    """The add form shows the bounds MonitorSettings checks, and a value past them is refused
    with the model's own place and reason (one model for the form and the API)."""
    olga = person(server, "olga", "operator")
    html = page(olga, "/monitors")
    assert re.search(r'name="interval_seconds" min="5" max="86400"', html)
    assert re.search(r'name="url" maxlength="2000"', html)
    answer = form(olga, "/monitors", "/monitors", url="http://127.0.0.1:9/", interval_seconds="4")
    assert answer.status_code == 400
    assert field_error(answer.get_data(as_text=True), "interval_seconds") == "At least 5."
    answer = form(olga, "/monitors", "/monitors", url="http://127.0.0.1:9/", max_ms="x")
    assert answer.status_code == 400
    assert field_error(answer.get_data(as_text=True), "max_ms") == "Write a whole number."


def field_error(html: str, field: str) -> str | None:
    """The sentence shown beside a form field (monitors/field.html), or None."""
    found = re.search(
        rf'<p class="field-error error" id="error-{field}" role="alert">([^<]*)</p>', html
    )
    return None if found is None else found.group(1)


def test_a_refused_form_comes_back_with_the_typed_values_and_the_reason_beside_the_field(
    server: Server,
) -> None:
    """Issue 13 item 7: no bare 400 page; the values stay, the reason is in the person's
    language beside its field, and an address without a scheme is offered with https://."""
    olga = person(server, "olga", "operator")
    answer = form(
        olga,
        "/monitors",
        "/monitors",
        url="www.school.edu.cn",
        name="School home",
        keyword="欢迎",
        interval_seconds="60",
    )
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert 'id="add-monitor"' in html and "<h1>Monitors</h1>" in html
    assert field_error(html, "url") == (
        "An address starts with http:// or https://. It now reads https://www.school.edu.cn: "
        "check it and save again."
    )
    assert 'name="url" maxlength="2000" required value="https://www.school.edu.cn"' in html
    assert 'aria-invalid="true" aria-describedby="error-url"' in html
    assert 'value="School home"' in html and 'value="欢迎"' in html and 'value="60"' in html
    assert "School home" not in page(olga, "/monitors")

    chinese = form(olga, "/monitors", "/monitors", "zh", url="https://u:p@www.school.edu.cn/")
    assert chinese.status_code == 400
    assert field_error(chinese.get_data(as_text=True), "url") == (
        "地址中不能带用户名或密码（user:password@）。"
    )

    # The same on a monitor's settings form: its other values kept as typed.
    added = form(olga, "/monitors", "/monitors", url="http://127.0.0.1:9/", name="Lab")
    assert added.status_code == 303
    path = added.headers["Location"].split("?")[0]
    answer = form(
        olga, path, path, url="intranet.school.local/", name="Lab renamed", timeout_seconds="0"
    )
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert 'value="https://intranet.school.local/"' in html and 'value="Lab renamed"' in html
    answer = form(olga, path, path, url="http://127.0.0.1:9/", name="Lab", timeout_seconds="0")
    assert answer.status_code == 400
    assert field_error(answer.get_data(as_text=True), "timeout_seconds") == "At least 1."
    assert monitor(server, int(path.rsplit("/", 1)[1]))["name"] == "Lab"


def test_a_refused_word_list_comes_back_as_typed_with_the_reason(server: Server) -> None:
    adam = person(server, "adam", "admin")
    long_word = "很" * 101
    answer = form(adam, "/monitors/words", "/monitors", "zh", words=f"博彩\n{long_word}")
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    assert field_error(html, "words") == "每个词语最多 100 个字符。"
    assert long_word in html and 'aria-describedby="error-words"' in html
    assert long_word not in page(adam, "/monitors")  # nothing was saved
