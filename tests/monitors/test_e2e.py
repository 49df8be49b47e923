"""End to end: ``xunjian server run`` (two worker processes, each with its scheduler thread)
watches a real loopback web site added with ``xunjian server monitor add``. The site goes
404: the monitor goes down with exactly one alert; it is defaced: one tamper alert; and every
check is made once, not once per process (the site's hit count equals the recorded results).

The monitor is added with ``--interval 5``, the shortest a person may choose, and then checked
every second: the test sets ``interval_seconds`` to 1 in the store (``every_second``), which the
schedulers read like any other interval. Only the waiting gets shorter (about 30 s to about 8 s
a database); every step and count is the same.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from server.monitors.models import Monitor
from server.store.models import utcnow
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


def every_second(database_url: str, monitor_id: int) -> None:
    """Check the monitor every second from now on, below the 5 s that the API and command line
    allow a person (server/monitors/schemas.py MIN_INTERVAL): written to the store, as a test's
    setting, so no product bound changes."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                sqlalchemy.update(Monitor)
                .where(Monitor.id == monitor_id)
                .values(interval_seconds=1, next_due_at=utcnow())
            )
    finally:
        engine.dispose()


def open_alerts(server: ServerUnderTest, token: str) -> list[dict[str, Any]]:
    answer = server.api(token, "GET", "/api/v1/alerts?status=open")
    assert answer.status == 200
    return list(answer.json()["alerts"])


def test_a_running_server_watches_a_site(
    running: ServerUnderTest, site: Site, database_url: str
) -> None:
    token = running.api_token()
    words = ["server", "monitor", "add", site.url(), "--data", str(running.data)]
    run_cli(*words, "--interval", "5", "--fail-threshold", "2", "--volatile", "#counter")
    [monitor] = running.api(token, "GET", "/api/v1/monitors").json()["monitors"]
    assert monitor["interval_seconds"] == 5
    every_second(database_url, monitor["id"])
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
    # the baseline taken when the monitor was added, plus at most one check in flight (hit,
    # not yet recorded). Checks go on every second, so the count is read between two readings
    # of the results: hits >= results + 1 at every moment, and hits <= results + 2.
    site.serve("/", home())
    wait_for("the tamper alert to resolve", lambda: open_alerts(running, token) == [])

    def total() -> int:
        return int(running.api(token, "GET", f"{path}/history").json()["total"])

    before = total()
    hits = site.hits
    after = total()
    assert before + 1 <= hits <= after + 2, (before, hits, after)
    all_alerts = running.api(token, "GET", "/api/v1/alerts").json()["alerts"]
    assert sorted(alert["kind"] for alert in all_alerts) == ["down", "tamper"]
