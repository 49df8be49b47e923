"""``/api/v1/monitors``: validation (bad input is a clear 400 and changes nothing), roles,
listing with state, history, defacement words; and the command line."""

from __future__ import annotations

import pytest

from tests.monitors.helpers import add, probe
from tests.monitors.site import Site
from tests.server.conftest import Server, run_xunjian
from tests.server.test_api import api_token, bearer


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "url: is required"),
        ({"url": "ftp://127.0.0.1/"}, "http:// or https://"),
        ({"url": "http://admin:secret@127.0.0.1/"}, "credentials"),
        ({"url": "http://127.0.0.1/" + "a" * 2000}, "url: expected `str` of length <= 2000"),
        ({"url": "http:///nohost"}, "no host"),
        ({"url": "http://127.0.0.1/ x"}, "spaces"),
        ({"url": "http://127.0.0.1/", "interval_seconds": 4}, "interval_seconds"),
        ({"url": "http://127.0.0.1/", "interval_seconds": True}, "interval_seconds"),
        ({"url": "http://127.0.0.1/", "accepted_statuses": "2xx"}, "accepted_statuses"),
        ({"url": "http://127.0.0.1/", "volatile_selectors": ["div > p"]}, "selector"),
        ({"url": "http://127.0.0.1/", "volatile_patterns": ["("]}, "pattern"),
        ({"url": "http://127.0.0.1/", "ca_file": "relative.pem"}, "absolute"),
        ({"url": "http://127.0.0.1/", "ca_file": "/etc/hostname"}, "PEM"),
        ({"url": "http://127.0.0.1/", "maintenance": {"start": "x", "end": "y"}}, "ISO"),
        ({"url": "http://127.0.0.1/", "surprise": 1}, "unknown field `surprise`"),
        ([1, 2], "expected `object`, got `array`"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_added(
    server: Server, body: object, reason: str
) -> None:
    token = api_token(server)
    answer = server.client().post("/api/v1/monitors", json=body, headers=bearer(token))
    assert answer.status_code == 400
    assert reason in answer.get_json()["error"]
    listing = server.client().get("/api/v1/monitors", headers=bearer(token)).get_json()
    assert listing["total"] == 0


def test_roles(server: Server, site: Site) -> None:
    auditor = api_token(server, "audrey", "auditor")
    operator = api_token(server, "olga", "operator")
    client = server.client()
    assert client.get("/api/v1/monitors").status_code == 401
    body = {"url": site.url()}
    assert client.post("/api/v1/monitors", json=body, headers=bearer(auditor)).status_code == 403
    created = add(server, operator, **body)
    path = f"/api/v1/monitors/{created['id']}"
    assert client.get(path, headers=bearer(auditor)).status_code == 200
    assert client.patch(path, json={"name": "x"}, headers=bearer(auditor)).status_code == 403
    assert client.delete(path, headers=bearer(auditor)).status_code == 403
    words = {"words": ["hacked by"]}
    put = client.put("/api/v1/monitors/defacement-words", json=words, headers=bearer(operator))
    assert put.status_code == 403
    ca = client.patch(
        path, json={"ca_file": "/etc/ssl/certs/ca-certificates.crt"}, headers=bearer(operator)
    )
    assert ca.status_code == 403  # only admins name a file on the server
    assert client.delete(path, headers=bearer(operator)).status_code == 204
    assert client.get(path, headers=bearer(auditor)).status_code == 404


def test_listing_gives_state_last_result_and_uptime(server: Server, site: Site) -> None:
    token = api_token(server)
    up = add(server, token, url=site.url(), name="home")
    down = add(server, token, url=site.url("/gone"), fail_threshold=1)
    probe(server, up["id"], times=3)
    probe(server, down["id"])
    listing = server.client().get("/api/v1/monitors", headers=bearer(token)).get_json()
    states = {m["name"]: (m["state"], m["uptime"]["24h"]) for m in listing["monitors"]}
    assert states == {"home": ("up", 100.0), site.url("/gone"): ("down", 0.0)}
    [first] = [m for m in listing["monitors"] if m["id"] == up["id"]]
    assert first["last_result"]["status_code"] == 200 and first["last_result"]["ok"] is True
    only_down = server.client().get("/api/v1/monitors?state=down", headers=bearer(token))
    assert [m["id"] for m in only_down.get_json()["monitors"]] == [down["id"]]
    assert server.client().get("/api/v1/monitors?state=x", headers=bearer(token)).status_code == 400

    history = (
        server.client()
        .get(f"/api/v1/monitors/{up['id']}/history?limit=2", headers=bearer(token))
        .get_json()
    )
    assert history["total"] == 3 and len(history["results"]) == 2
    assert history["results"][0]["ok"] is True
    hourly = server.client().get(
        f"/api/v1/monitors/{up['id']}/history?period=hour", headers=bearer(token)
    )
    assert hourly.status_code == 200 and hourly.get_json()["aggregates"] == []
    bad = server.client().get(
        f"/api/v1/monitors/{up['id']}/history?period=week", headers=bearer(token)
    )
    assert bad.status_code == 400


def test_patch_changes_settings_and_a_new_url_drops_the_baseline(
    server: Server, site: Site
) -> None:
    token = api_token(server)
    created = add(server, token, url=site.url())
    path = f"/api/v1/monitors/{created['id']}"
    answer = server.client().patch(
        path, json={"interval_seconds": 60, "keyword": "欢迎"}, headers=bearer(token)
    )
    assert answer.status_code == 200
    assert answer.get_json()["interval_seconds"] == 60
    assert answer.get_json()["baseline"] is not None
    site.serve("/other", "<p>other page</p>")
    changed = (
        server.client()
        .patch(path, json={"url": site.url("/other"), "keyword": ""}, headers=bearer(token))
        .get_json()
    )
    assert changed["baseline"] is None
    probe(server, created["id"])
    seen = server.client().get(path, headers=bearer(token)).get_json()
    assert seen["baseline"]["accepted_by"] == "first good check"
    assert (
        server.client().patch(path, json={"enabled": "yes"}, headers=bearer(token)).status_code
        == 400
    )


def test_defacement_words_are_editable_by_admins(server: Server, site: Site) -> None:
    admin = api_token(server)
    client = server.client()
    shipped = client.get("/api/v1/monitors/defacement-words", headers=bearer(admin)).get_json()
    assert "hacked by" in shipped["words"] and "黑客" in shipped["words"]
    answer = client.put(
        "/api/v1/monitors/defacement-words",
        json={"words": ["  Under  Construction ", "黑客", "黑客"]},
        headers=bearer(admin),
    )
    assert answer.get_json()["words"] == ["under construction", "黑客"]
    created = add(server, admin, url=site.url())
    site.serve("/", site.pages["/"].body.decode().replace("食堂", "UNDER CONSTRUCTION"))
    site.serve(
        "/", site.pages["/"].body.decode().replace("About us", "About us - under construction")
    )
    result = probe(server, created["id"])
    assert result.verdict is not None
    assert result.verdict.words == ("under construction",)
    too_long = client.put(
        "/api/v1/monitors/defacement-words", json={"words": ["x" * 101]}, headers=bearer(admin)
    )
    assert too_long.status_code == 400


def test_the_command_line_adds_and_lists(server: Server, site: Site) -> None:
    status, out, err = run_xunjian(
        "server", "monitor", "add", site.url(), "--data", str(server.data),
        "--interval", "30", "--keyword", "欢迎", "--max-ms", "2000", "--volatile", "#counter",
    )  # fmt: skip
    assert status == 0, err
    assert "baseline taken" in out
    status, out, err = run_xunjian("server", "monitor", "list", "--data", str(server.data))
    assert status == 0 and site.url() in out and "pending" in out
    status, _out, err = run_xunjian(
        "server", "monitor", "add", site.url(), "--data", str(server.data), "--interval", "4"
    )
    assert status == 2 and "usage:" in err  # argparse's usage error
    status, _out, err = run_xunjian(
        "server", "monitor", "add", "file:///etc/passwd", "--data", str(server.data)
    )
    assert status == 1 and "http:// or https://" in err
    listing = server.client().get("/api/v1/monitors", headers=bearer(api_token(server)))
    [only] = listing.get_json()["monitors"]
    assert only["keyword"] == "欢迎" and only["max_ms"] == 2000
    assert only["volatile_selectors"] == ["#counter"] and only["created_by"].startswith("cli:")
