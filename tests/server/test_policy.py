"""Per-group policy: every registry check enabled with its defaults; changes bump the version."""

from __future__ import annotations

from sqlalchemy import select

from server.policy import check_catalog, set_group_policy
from server.store.models import Group
from tests.server.conftest import Server, SignedAgent


def test_default_policy_enables_every_registry_check(server: Server, agent: SignedAgent) -> None:
    catalog = check_catalog()
    assert catalog, "the check registry (checks.api) gave no checks"
    checks = agent.policy().get_json()["checks"]
    assert set(checks) == {entry["id"] for entry in catalog}
    for entry in catalog:
        assert checks[entry["id"]]["enabled"] is True
        for name, spec in (entry.get("params") or {}).items():
            assert checks[entry["id"]]["params"][name] == spec["default"]


def test_changing_a_group_policy_bumps_its_version(server: Server, agent: SignedAgent) -> None:
    with server.state.sessions() as session:
        group = session.scalars(select(Group).where(Group.name == "default")).one()
        version = set_group_policy(
            session,
            group,
            {
                "checks": {"test.switched_off": {"enabled": False}},
                "approved": {"users": ["alice"], "software": []},
            },
        )
        session.commit()
    assert version == 2
    policy = agent.policy().get_json()
    assert policy["version"] == 2
    assert policy["checks"]["test.switched_off"] == {"enabled": False, "params": {}}
    assert policy["approved"]["users"] == ["alice"]
    assert agent.heartbeat().get_json()["policy_version"] == 2


def test_other_groups_keep_their_version(server: Server, agent: SignedAgent) -> None:
    lab_agent = server.enroll("lab-pc", group="lab")
    with server.state.sessions() as session:
        lab = session.scalars(select(Group).where(Group.name == "lab")).one()
        set_group_policy(session, lab, {"checks": {}})
        session.commit()
    assert lab_agent.policy().get_json()["version"] == 2
    assert agent.policy().get_json()["version"] == 1


def test_approved_users_reach_the_check_that_judges_them(
    server: Server, agent: SignedAgent
) -> None:
    """The group's approved list becomes accounts.unapproved's parameter, so an agent scanning
    with the served policy judges accounts instead of saying the list is missing."""
    with server.state.sessions() as session:
        group = session.scalars(select(Group).where(Group.name == "default")).one()
        set_group_policy(
            session,
            group,
            {
                "checks": {"accounts.unapproved": {"params": {"approved": ["bob"]}}},
                "approved": {"users": ["alice", "root"], "software": ["openssh-server"]},
            },
        )
        session.commit()
    policy = agent.policy().get_json()
    assert policy["checks"]["accounts.unapproved"]["params"]["approved"] == ["alice", "bob", "root"]
    assert "openssh-server" in policy["checks"]["software.allow_list"]["params"]["allowed"]

    from checks.api import run_scan

    # Only this check, so the test does not wait for the package manager's checks.
    only = {
        check_id: {**entry, "enabled": check_id == "accounts.unapproved"}
        for check_id, entry in policy["checks"].items()
    }
    results = run_scan(only)
    assert {result["check_id"] for result in results} == {"accounts.unapproved"}
    assert results and all(result["status"] != "not_applicable" for result in results), results
