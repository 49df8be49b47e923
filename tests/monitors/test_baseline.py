"""Accepting a changed page needs two different people (POLICY.md E9): one proposes, another
approves; the proposer's own approval is refused; both are in the operation log."""

from __future__ import annotations

from sqlalchemy import select

from server.oplog.models import OplogEntry
from tests.monitors.helpers import add, alerts, monitor, probe
from tests.monitors.site import DEFACED, Site, home
from tests.server.conftest import Server
from tests.server.test_api import api_token, bearer


def post(server: Server, token: str, path: str, body: object = None):
    return server.client().post(path, json=body, headers=bearer(token))


def test_two_people_accept_a_changed_page(server: Server, site: Site) -> None:
    olga = api_token(server, "olga", "operator")
    adam = api_token(server, "adam", "admin")
    audrey = api_token(server, "audrey", "auditor")
    created = add(server, olga, url=site.url(), volatile_selectors=["#counter", ".updated"])
    base = f"/api/v1/monitors/{created['id']}/baseline"

    # Nothing changed: nothing to propose.
    assert post(server, olga, f"{base}/proposals").status_code == 409

    redesigned = home().replace("<main>", "<main><h2>新学期新气象</h2><p>校园网站改版上线。</p>")
    redesigned = redesigned.replace("本周教研活动安排已发布，请各教研组按时参加。", "")
    redesigned = redesigned.replace(
        "<li>图书馆开放时间调整</li>", "<li>食堂菜单</li><li>校车路线</li>"
    )
    site.serve("/", DEFACED)
    probe(server, created["id"])
    [tamper] = alerts(server, "tamper")
    site.serve("/", redesigned)
    probe(server, created["id"])

    assert post(server, audrey, f"{base}/proposals").status_code == 403
    answer = post(server, olga, f"{base}/proposals", {"note": "new term, new front page"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    proposal = answer.get_json()
    assert proposal["status"] == "pending" and proposal["proposed_by"] == "olga"
    assert "+新学期新气象" in proposal["diff"]
    approve = f"{base}/proposals/{proposal['id']}/approve"

    refused = post(server, olga, approve)
    assert refused.status_code == 403
    assert "two people" in refused.get_json()["error"]
    assert post(server, audrey, approve).status_code == 403

    answer = post(server, adam, approve)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["status"] == "approved"
    assert answer.get_json()["decided_by"] == "adam"
    assert post(server, adam, approve).status_code == 409  # decided already

    seen = monitor(server, created["id"])
    assert seen["baseline"]["accepted_by"] == "olga + adam"
    assert seen["page_changed_at"] is None
    assert alerts(server, "tamper")[0]["id"] == tamper["id"]
    assert alerts(server, "tamper")[0]["status"] == "resolved"

    # The accepted page raises nothing; the old one would now be a change.
    probe(server, created["id"], times=2)
    assert alerts(server, status="open") == []

    with server.state.sessions() as session:
        entries = session.scalars(
            select(OplogEntry).where(OplogEntry.action.like("monitor.baseline.%"))
        ).all()
    done = [(entry.action, entry.actor, entry.outcome) for entry in entries]
    assert ("monitor.baseline.propose", "olga", "ok") in done
    assert ("monitor.baseline.approve", "adam", "ok") in done
    # The refused self-approval is in the log too (the hook records every write).
    with server.state.sessions() as session:
        refusals = session.scalars(
            select(OplogEntry).where(OplogEntry.actor == "olga", OplogEntry.outcome == "refused")
        ).all()
    assert any("two people" in entry.reason for entry in refusals)


def test_a_rejected_proposal_leaves_the_baseline(server: Server, site: Site) -> None:
    olga = api_token(server, "olga", "operator")
    created = add(server, olga, url=site.url())
    site.serve("/", DEFACED)
    probe(server, created["id"])
    base = f"/api/v1/monitors/{created['id']}/baseline"
    proposal = post(server, olga, f"{base}/proposals").get_json()
    # The proposer may withdraw (reject) their own proposal; only approval needs a second person.
    answer = post(server, olga, f"{base}/proposals/{proposal['id']}/reject")
    assert answer.status_code == 200 and answer.get_json()["status"] == "rejected"
    listing = server.client().get(base, headers=bearer(olga)).get_json()
    assert listing["baseline"]["accepted_by"] == "olga"
    assert listing["candidate"] is not None
    assert [p["status"] for p in listing["proposals"]] == ["rejected"]
    assert alerts(server, "tamper", "open")


def test_a_new_proposal_supersedes_the_pending_one(server: Server, site: Site) -> None:
    olga = api_token(server, "olga", "operator")
    adam = api_token(server, "adam", "admin")
    created = add(server, olga, url=site.url())
    site.serve("/", DEFACED)
    probe(server, created["id"])
    base = f"/api/v1/monitors/{created['id']}/baseline/proposals"
    first = post(server, olga, base).get_json()
    second = post(server, adam, base).get_json()
    assert post(server, olga, f"{base}/{first['id']}/approve").status_code == 409
    assert post(server, olga, f"{base}/{second['id']}/approve").status_code == 200
    assert post(server, adam, f"{base}/999/approve").status_code == 404
