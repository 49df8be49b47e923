"""Monitors run by an agent, on the server's side: assigning one (API validation, who runs it),
the scheduler leaving it alone, and the signed outcomes an agent posts: accepted ones are
judged and recorded like the server's own checks; forged, malformed, oversized ones and ones
for a monitor that is not that agent's are refused with 4xx and change nothing.

The app runs in this process (Flask's test client); agents sign their requests for real."""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from agent.monitors.collector import collect, outcome_document
from agent.monitors.spec import MonitorSpec
from server.alerts.models import Alert
from server.monitors.jobs import claim_due
from server.monitors.models import Monitor, MonitorBaseline, MonitorResult
from server.monitors.record import DefacementWords, probe_monitor
from server.oplog.models import OplogEntry
from server.store.agents import revoke_agent
from server.store.models import utcnow
from tests.monitors.helpers import LOOPBACK, add, alerts, monitor
from tests.monitors.site import DEFACED, Site
from tests.server.conftest import Server, SignedAgent
from tests.server.test_api import api_token, bearer
from xunjian.core.contract import PATH_MONITOR_OUTCOMES, PATH_MONITORS
from xunjian.core.probe import MAX_BODY_BYTES
from xunjian.core.wire import sign_request


def spec_of(site: Site, monitor_id: int) -> MonitorSpec:
    return MonitorSpec(monitor_id, site.url(), 60, 10, True, 5)


def fetched_outcome(site: Site, monitor_id: int, **changes: Any) -> dict[str, Any]:
    """A real fetch of the site, as the agent's collector writes it."""
    fetched, checked_at = collect(spec_of(site, monitor_id), LOOPBACK)
    document = outcome_document(monitor_id, fetched, checked_at)
    document.update(changes)
    return document


def post(agent: SignedAgent, document: Any) -> Any:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return agent.signed("POST", PATH_MONITOR_OUTCOMES, body)


def snapshot(server: Server, monitor_id: int) -> tuple[Any, ...]:
    """What an outcome could change: results, state, last result, baseline, alerts."""
    with server.state.sessions() as session:
        row = session.get(Monitor, monitor_id)
        assert row is not None
        return (
            session.scalar(select(func.count()).select_from(MonitorResult)),
            row.state,
            row.last_checked_at,
            json.dumps(row.last_result, sort_keys=True),
            session.get(MonitorBaseline, monitor_id) is not None,
            session.scalar(select(func.count()).select_from(Alert)),
        )


def test_assigning_a_monitor_to_an_agent_is_validated(
    server: Server, agent: SignedAgent, site: Site
) -> None:
    token = api_token(server)
    client = server.client()
    created = add(server, token, url=site.url(), agent_id=agent.agent_id)
    # The server never fetches an agent's page, not even for the baseline.
    assert site.hits == 0 and created["baseline"] is None
    assert created["agent_id"] == agent.agent_id
    assert created["run_by"]["kind"] == "agent" and created["run_by"]["hostname"] == "pc-101"
    listed = client.get("/api/v1/monitors", headers=bearer(token)).get_json()["monitors"]
    assert [m["run_by"]["agent_id"] for m in listed] == [agent.agent_id]

    other = server.enroll("pc-102")
    with server.state.sessions() as session:
        revoke_agent(session, other.agent_id)
        session.commit()
    for fields, reason in (
        ({"agent_id": "not-an-id"}, "agent_id: expected `str` matching"),
        ({"agent_id": "0" * 8 + "-0000-4000-8000-" + "0" * 12}, "no enrolled agent"),
        ({"agent_id": other.agent_id}, "is revoked"),
        ({"agent_id": 7}, "agent_id: expected `str | null`, got `int`"),
        ({"agent_id": agent.agent_id, "ca_file": "/etc/ssl/certs/ca-certificates.crt"}, "ca_file"),
    ):
        answer = client.post(
            "/api/v1/monitors", json={"url": site.url(), **fields}, headers=bearer(token)
        )
        assert answer.status_code == 400, answer.get_data(as_text=True)
        assert reason in answer.get_json()["error"]
        path = f"/api/v1/monitors/{created['id']}"
        answer = client.patch(path, json=fields, headers=bearer(token))
        assert answer.status_code == 400, answer.get_data(as_text=True)
    assert monitor(server, created["id"])["agent_id"] == agent.agent_id
    assert len(client.get("/api/v1/monitors", headers=bearer(token)).get_json()["monitors"]) == 1

    path = f"/api/v1/monitors/{created['id']}"
    moved = client.patch(path, json={"agent_id": None}, headers=bearer(token)).get_json()
    assert moved["agent_id"] is None and moved["run_by"] == {"kind": "server"}


def test_the_scheduler_never_probes_an_agents_monitor(
    server: Server, agent: SignedAgent, site: Site
) -> None:
    engine = server.state.engine
    created = add(server, url=site.url(), agent_id=agent.agent_id)
    ours = add(server, url=site.url("/?server"))
    hits = site.hits
    with engine.begin() as connection:
        past = utcnow() - datetime.timedelta(hours=1)
        connection.execute(update(Monitor).values(next_due_at=past))
    assert claim_due(engine, "test-process", 10) == [ours["id"]]
    # Even called directly (a claim made just before the monitor moved to the agent).
    assert probe_monitor(engine, created["id"], DefacementWords(engine).get()) is None
    assert site.hits == hits
    assert monitor(server, created["id"])["last_checked_at"] is None


def test_the_agent_gets_its_own_monitors_only(
    server: Server, agent: SignedAgent, site: Site
) -> None:
    mine = add(server, url=site.url(), agent_id=agent.agent_id, interval_seconds=30)
    paused = add(server, url=site.url("/paused"), agent_id=agent.agent_id)
    server.client().patch(
        f"/api/v1/monitors/{paused['id']}",
        json={"enabled": False},
        headers=bearer(api_token(server)),
    )
    add(server, url=site.url("/server"))
    add(server, url=site.url("/other"), agent_id=server.enroll("pc-102").agent_id)
    answer = agent.signed("GET", PATH_MONITORS)
    assert answer.status_code == 200
    assert answer.get_json() == {
        "monitors": [
            {
                "id": mine["id"],
                "url": site.url(),
                "interval_seconds": 30,
                "timeout_seconds": 10,
                "follow_redirects": True,
                "max_redirects": 5,
            }
        ],
        "max_body_bytes": MAX_BODY_BYTES,
    }
    forged = sign_request(Ed25519PrivateKey.generate(), "GET", PATH_MONITORS, agent.agent_id, b"")
    refused = server.client().get(PATH_MONITORS, headers=forged.as_dict())
    assert refused.status_code == 401


def test_outcomes_are_judged_like_the_servers_own_checks(
    server: Server, agent: SignedAgent, site: Site
) -> None:
    created = add(server, url=site.url(), agent_id=agent.agent_id, fail_threshold=2)
    monitor_id = created["id"]
    answer = post(agent, fetched_outcome(site, monitor_id))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"recorded": True}
    seen = monitor(server, monitor_id)
    assert seen["state"] == "up" and seen["baseline"]["accepted_by"] == "first good check"
    assert seen["last_result"]["agent_id"] == agent.agent_id
    assert seen["last_result_age_seconds"] is not None

    # A retried outcome (the answer was lost) is recorded once.
    again = fetched_outcome(site, monitor_id)
    assert post(agent, again).get_json() == {"recorded": True}
    assert post(agent, again).get_json() == {"recorded": False, "reason": "stale"}

    site.serve("/", DEFACED)
    for _ in range(3):
        assert post(agent, fetched_outcome(site, monitor_id)).get_json() == {"recorded": True}
    [tamper] = alerts(server, "tamper")
    assert "hacked by" in tamper["message"] and tamper["monitor"]["id"] == monitor_id

    site.remove("/")
    for _ in range(2):
        post(agent, fetched_outcome(site, monitor_id))
    assert monitor(server, monitor_id)["state"] == "down"
    [down] = alerts(server, "down")
    assert "status 404" in down["message"]

    # A fetch that got no answer at all, with the agent's dropped count.
    unreachable = fetched_outcome(site, monitor_id, status=None, body="", dropped=4)
    unreachable["error"] = "ConnectionRefusedError: [Errno 111] Connection refused"
    assert post(agent, unreachable).get_json() == {"recorded": True}
    last = monitor(server, monitor_id)["last_result"]
    assert last["dropped_before"] == 4 and "Connection refused" in last["error"]
    history = server.client().get(
        f"/api/v1/monitors/{monitor_id}/history", headers=bearer(api_token(server))
    )
    assert history.get_json()["total"] == 8


def test_bad_outcomes_are_refused_and_change_nothing(
    server: Server, agent: SignedAgent, site: Site
) -> None:
    mine = add(server, url=site.url(), agent_id=agent.agent_id)["id"]
    servers = add(server, url=site.url("/?server"))["id"]
    other = server.enroll("pc-102")
    theirs = add(server, url=site.url("/?theirs"), agent_id=other.agent_id)["id"]
    good = fetched_outcome(site, mine)
    assert post(agent, good).status_code == 200
    before = {monitor_id: snapshot(server, monitor_id) for monitor_id in (mine, servers, theirs)}

    def refused(status: int, document: Any, who: SignedAgent = agent) -> str:
        answer = post(who, document)
        assert answer.status_code == status, (status, answer.get_data(as_text=True)[:300])
        return str(answer.get_json()["error"])

    later = fetched_outcome(site, mine)
    # Not this agent's monitor: another agent's, the server's own, one that does not exist.
    assert "not run by agent" in refused(403, later, other)
    assert "not run by agent" in refused(403, {**later, "monitor_id": servers})
    assert "not run by agent" in refused(403, {**later, "monitor_id": theirs})
    assert "not run by agent" in refused(403, {**later, "monitor_id": 999_999})
    # Forged: signed with a key that is not the agent's.
    body = json.dumps(later).encode()
    forged = sign_request(
        Ed25519PrivateKey.generate(), "POST", PATH_MONITOR_OUTCOMES, agent.agent_id, body
    )
    answer = server.client().post(
        PATH_MONITOR_OUTCOMES,
        data=body,
        headers={**forged.as_dict(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 401
    # Too big: a page over the probe's 1 MiB cap, and a request over the body limit.
    oversized = base64.b64encode(b"x" * (MAX_BODY_BYTES + 1)).decode()
    assert "cap" in refused(413, {**later, "body": oversized})
    huge = json.dumps({**later, "padding": "x" * (3 * 1024 * 1024)}).encode()
    assert "limit" in refused(413, huge)
    # Malformed.
    now = datetime.datetime.now(datetime.UTC)
    for document, reason in (
        (b"{not json", "body: not valid JSON"),
        (b"[]", "body: expected `object`, got `array`"),
        ({**later, "judged": "up"}, "unknown field"),
        ({**later, "status": "200"}, "status: "),
        ({**later, "status": 42}, "status: "),
        ({**later, "status": None, "error": ""}, "error: a fetch without a status must say why"),
        ({**later, "monitor_id": True}, "monitor_id: "),
        ({**later, "ms": -1}, "ms: "),
        ({**later, "body": "not base64!"}, "body: invalid base64"),
        ({**later, "url": "ftp://intranet/"}, "url: "),
        ({**later, "redirects": ["http://a/"] * 11}, "redirects: "),
        ({**later, "cert": {"not_after": "soon", "verified": True}}, "cert.not_after: "),
        (
            {key: value for key, value in later.items() if key != "checked_at"},
            "checked_at: is required",
        ),
        (
            {**later, "checked_at": f"{now + datetime.timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}"},
            "checked_at: more than 300 s after",
        ),
        (
            {**later, "checked_at": f"{now - datetime.timedelta(days=3):%Y-%m-%dT%H:%M:%SZ}"},
            "checked_at: older than 2 days",
        ),
        ({**later, "dropped": -1}, "dropped: "),
    ):
        assert reason in refused(400, document), reason
    after = {monitor_id: snapshot(server, monitor_id) for monitor_id in (mine, servers, theirs)}
    assert after == before
    # Each refusal is in the operation log, with the reason.
    with server.state.sessions() as session:
        reasons = list(
            session.scalars(
                select(OplogEntry.reason).where(
                    OplogEntry.action == "agent.refused", OplogEntry.outcome == "refused"
                )
            )
        )
    assert sum("not run by agent" in reason for reason in reasons) == 4, reasons
    # And the good one still goes through afterwards.
    assert post(agent, later).get_json() == {"recorded": True}


def test_a_revoked_agent_is_refused(server: Server, agent: SignedAgent, site: Site) -> None:
    monitor_id = add(server, url=site.url(), agent_id=agent.agent_id)["id"]
    with server.state.sessions() as session:
        revoke_agent(session, agent.agent_id)
        session.commit()
    before = snapshot(server, monitor_id)
    assert post(agent, fetched_outcome(site, monitor_id)).status_code == 401
    assert agent.signed("GET", PATH_MONITORS).status_code == 401
    assert snapshot(server, monitor_id) == before
    # The monitor says who runs it, and that the agent is revoked.
    assert monitor(server, monitor_id)["run_by"]["revoked"] is True
