"""A signed request replayed within the 300 s window changes nothing (issue 14, item 8):
heartbeats and monitor outcomes take effect once (the signature is remembered in
``seen_signatures``, shared by every server process); reports were already kept once by their
``(agent_id, epoch, seq)``, file events with them."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from sqlalchemy import func, select

from server.files.models import FileEvent
from server.monitors.models import MonitorResult
from server.store.models import Agent, Report
from tests.server.conftest import Server, SignedAgent
from tests.server.test_api import api_token, bearer
from xunjian.core.contract import PATH_HEARTBEAT, PATH_MONITOR_OUTCOMES, PATH_REPORTS
from xunjian.core.wire import sign_request


def replay(server: Server, headers: dict[str, str], path: str, body: bytes) -> Any:
    return server.client().post(path, data=body, headers=headers)


def signed_headers(agent: SignedAgent, path: str, body: bytes) -> dict[str, str]:
    headers = sign_request(agent.key, "POST", path, agent.agent_id, body).as_dict()
    return {**headers, "Content-Type": "application/json"}


def count(server: Server, model: Any) -> int:
    with server.state.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def last_seen(server: Server, agent: SignedAgent) -> Any:
    with server.state.sessions() as session:
        return session.scalar(select(Agent.last_seen).where(Agent.id == agent.agent_id))


def test_a_replayed_heartbeat_is_409_and_changes_nothing(
    server: Server, agent: SignedAgent
) -> None:
    body = json.dumps({"spool_depth": 0, "last_seq": 0, "epoch": 1, "acked_commands": []}).encode()
    headers = signed_headers(agent, PATH_HEARTBEAT, body)
    assert replay(server, headers, PATH_HEARTBEAT, body).status_code == 200
    seen = last_seen(server, agent)
    again = replay(server, headers, PATH_HEARTBEAT, body)
    assert again.status_code == 409 and "replayed" in again.get_json()["error"]
    assert last_seen(server, agent) == seen
    # A new signature of the same content (the agent signs every attempt anew) is taken.
    assert agent.heartbeat().status_code == 200


def test_a_replayed_monitor_outcome_records_nothing_even_from_a_clock_ahead(
    server: Server, agent: SignedAgent
) -> None:
    """The agent's clock 200 s ahead (inside the window): the server clamps the check time to
    its own now, so before, a replay a moment later recorded a second result."""
    token = api_token(server)
    created = server.client().post(
        "/api/v1/monitors",
        json={"url": "http://10.9.8.7/", "agent_id": agent.agent_id},
        headers=bearer(token),
    )
    assert created.status_code == 201, created.get_data(as_text=True)
    ahead = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=200)
    document = {
        "monitor_id": created.get_json()["id"],
        "checked_at": ahead.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "url": "http://10.9.8.7/",
        "status": 200,
        "ms": 12,
        "error": "",
        "body": base64.b64encode(b"<html><title>school</title>home</html>").decode(),
        "truncated": False,
        "content_type": "text/html",
        "redirects": [],
        "cert": None,
        "dropped": 0,
    }
    body = json.dumps(document).encode()
    headers = signed_headers(agent, PATH_MONITOR_OUTCOMES, body)
    first = replay(server, headers, PATH_MONITOR_OUTCOMES, body)
    assert first.status_code == 200 and first.get_json()["recorded"] is True
    results = count(server, MonitorResult)
    again = replay(server, headers, PATH_MONITOR_OUTCOMES, body)
    assert again.status_code == 409
    assert count(server, MonitorResult) == results


def test_a_replayed_file_event_report_is_a_duplicate_that_changes_nothing(
    server: Server, agent: SignedAgent
) -> None:
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
    event = {
        "action": "created",
        "path": "/srv/up/a.php",
        "folder": "/srv/up",
        "folder_kind": "upload",
        "observed_at": now,
        "findings": [{"kind": "webshell", "rule": "php.eval_request"}],
    }
    report = agent.report(kind="file_events", results=[], inventory=None, file_events=[event])
    body = json.dumps(report).encode()
    headers = signed_headers(agent, PATH_REPORTS, body)
    assert replay(server, headers, PATH_REPORTS, body).get_json() == {"stored": True}
    before = (count(server, FileEvent), count(server, Report))
    again = replay(server, headers, PATH_REPORTS, body)
    assert again.get_json() == {"stored": False, "duplicate": True}
    assert (count(server, FileEvent), count(server, Report)) == before
