"""End to end: ``xunjian server run`` (two worker processes, each with its scheduler thread)
watches a real loopback web site added with ``xunjian server monitor add``. The site goes
404: the monitor goes down with exactly one alert; it is defaced: one tamper alert; and every
check is made once, not once per process (the site's hit count equals the recorded results)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ServerUnderTest, run_cli, wait_for
from tests.monitors.conftest import LOOPBACK_ALLOWED
from tests.monitors.site import DEFACED, Site, home


@pytest.fixture
def running(
    tmp_path: Path, database_url: str, data_folder_templates: object
) -> Iterator[ServerUnderTest]:
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    server.set_config(workers=2, monitor_threads=4, **LOOPBACK_ALLOWED)
    server.start()
    yield server
    server.stop()


def open_alerts(server: ServerUnderTest, token: str) -> list[dict[str, Any]]:
    answer = server.api(token, "GET", "/api/v1/alerts?status=open")
    assert answer.status == 200
    return list(answer.json()["alerts"])


def test_a_running_server_watches_a_site(running: ServerUnderTest, site: Site) -> None:
    token = running.api_token()
    words = ["server", "monitor", "add", site.url(), "--data", str(running.data)]
    run_cli(*words, "--interval", "5", "--fail-threshold", "2", "--volatile", "#counter")
    [monitor] = running.api(token, "GET", "/api/v1/monitors").json()["monitors"]
    path = f"/api/v1/monitors/{monitor['id']}"

    def checked(times: int) -> Any:
        seen = running.api(token, "GET", path).json()
        history = running.api(token, "GET", f"{path}/history").json()
        return seen if history["total"] >= times else None

    assert wait_for("two checks", lambda: checked(2), timeout=60)["state"] == "up"

    site.remove("/")
    wait_for(
        "the monitor to go down", lambda: running.api(token, "GET", path).json()["state"] == "down"
    )
    [down] = open_alerts(running, token)
    assert down["kind"] == "down" and "status 404" in down["message"]

    site.serve("/", DEFACED)
    wait_for(
        "a tamper alert",
        lambda: any(alert["kind"] == "tamper" for alert in open_alerts(running, token)),
    )
    wait_for(
        "the down alert to resolve", lambda: running.api(token, "GET", path).json()["state"] == "up"
    )
    kinds = sorted(alert["kind"] for alert in open_alerts(running, token))
    assert kinds == ["tamper"]

    # Each check was made by one process: the site saw one request per recorded result, plus
    # the baseline taken when the monitor was added (and at most one check in flight now).
    site.serve("/", home())
    wait_for("the tamper alert to resolve", lambda: open_alerts(running, token) == [])
    hits = site.hits
    total = running.api(token, "GET", f"{path}/history").json()["total"]
    assert total + 1 <= hits <= total + 2, (hits, total)
    all_alerts = running.api(token, "GET", "/api/v1/alerts").json()["alerts"]
    assert sorted(alert["kind"] for alert in all_alerts) == ["down", "tamper"]
