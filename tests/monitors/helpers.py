"""Shared steps of the monitor tests: add a monitor through the real API, probe it now (the
scheduler's own function, without waiting for its tick), read alerts through the API."""

from __future__ import annotations

from typing import Any

from server.monitors.judge import Result
from server.monitors.record import DefacementWords, probe_monitor
from tests.server.conftest import Server
from tests.server.test_api import api_token, bearer
from xunjian.core.probe import AddressPolicy

# The test sites run on 127.0.0.1: allowed here as an admin allows a network (docs/monitors.md).
LOOPBACK = AddressPolicy.allowing(["127.0.0.0/8"])


def add(server: Server, token: str | None = None, **fields: Any) -> dict[str, Any]:
    token = token or api_token(server)
    answer = server.client().post("/api/v1/monitors", json=fields, headers=bearer(token))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()


def probe(server: Server, monitor_id: int, times: int = 1) -> Result:
    engine = server.state.engine
    words = DefacementWords(engine).get()
    result = None
    for _ in range(times):
        result = probe_monitor(
            engine,
            monitor_id,
            words,
            server.state.config.notify_channels,
            addresses=server.state.config.monitor_addresses,
        )
    assert result is not None
    return result


def alerts(server: Server, kind: str | None = None, status: str | None = None) -> list[dict]:
    query = f"?status={status}" if status else ""
    answer = server.client().get(f"/api/v1/alerts{query}", headers=bearer(api_token(server)))
    assert answer.status_code == 200
    found = answer.get_json()["alerts"]
    return [alert for alert in found if kind is None or alert["kind"] == kind]


def monitor(server: Server, monitor_id: int) -> dict[str, Any]:
    answer = server.client().get(
        f"/api/v1/monitors/{monitor_id}", headers=bearer(api_token(server))
    )
    assert answer.status_code == 200
    return answer.get_json()
