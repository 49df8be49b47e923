"""Alerts end to end: a real server process (two workers), a real agent scanning a small host
tree, and a real HTTP receiver on 127.0.0.1 for the webhook channel. An account with UID 0
appears in the tree's /etc/passwd: accounts.uid0_extra fails, an alert opens and is sent once;
the account goes: the next full scan no longer reports the failure and the alert resolves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import AgentUnderTest, ServerUnderTest, wait_for
from tests.integration.test_spine import _small_host_tree
from tests.server.test_alerts_delivery import Receiver

INTRUDER = "toor2:x:0:0:intruder:/root:/bin/sh\n"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.http.shutdown()
    receiver.http.server_close()


@pytest.fixture
def alerting_server(
    database_url: str, tmp_path: Path, receiver: Receiver, data_folder_templates: object
) -> Iterator[ServerUnderTest]:
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    server.set_config(
        heartbeat_interval_seconds=1,
        scan_interval_seconds=5,
        alert_sweep_seconds=1,
        workers=2,
        notify_channels=[
            {
                "name": "it-hook",
                "kind": "webhook",
                "min_severity": "low",
                "settings": {"url": receiver.url, "allow_http": True},
            }
        ],
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _alerts(server: ServerUnderTest, token: str, status: str) -> list[dict[str, Any]]:
    answer = server.api(token, "GET", f"/api/v1/alerts?status={status}")
    assert answer.status == 200, answer.body
    return list(answer.json()["alerts"])


def _uid0(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        alert
        for alert in alerts
        if alert["check_id"] == "accounts.uid0_extra" and alert["resource"] == "user:toor2"
    ]


def test_a_uid0_account_opens_an_alert_that_is_sent_once_and_resolves_when_it_goes(
    alerting_server: ServerUnderTest, receiver: Receiver, tmp_path: Path
) -> None:
    server = alerting_server
    tree = _small_host_tree(tmp_path / "host-tree")
    passwd = tree / "etc" / "passwd"
    clean = passwd.read_text()
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(server.create_token())
    agent.tune(scan_interval_seconds=1, scan_root=str(tree))
    token = server.api_token()
    agent.start()
    try:
        wait_for(
            "the host's first results",
            lambda: (
                server.api(token, "GET", f"/api/v1/hosts/{agent.agent_id}/results")
                .json()
                .get("results")
            ),
        )
        assert _uid0(_alerts(server, token, "open")) == []
        passwd.write_text(clean + INTRUDER)
        [alert] = wait_for("the alert to open", lambda: _uid0(_alerts(server, token, "open")))
        assert alert["kind"] == "check_failed"
        assert alert["host"]["id"] == agent.agent_id
        wait_for("the webhook delivery", lambda: receiver.deliveries.get(str(alert["id"])))

        passwd.write_text(clean)
        [resolved] = wait_for(
            "the alert to resolve", lambda: _uid0(_alerts(server, token, "resolved"))
        )
        assert resolved["id"] == alert["id"]
        assert resolved["resolved_by"] is None  # the server resolved it
        assert _uid0(_alerts(server, token, "open")) == []
    finally:
        agent.stop()
    # Two server processes each ran the delivery worker; the alert arrived once.
    assert receiver.deliveries[str(alert["id"])] == 1
    assert server.log().count("Traceback") == 0, server.log()[-3000:]
