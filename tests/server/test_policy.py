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


def _inventory_with(agent: SignedAgent, seq: int, accounts: list[str], packages: list[str]) -> None:
    document = agent.report(seq)
    document["inventory"]["baseline"] = {"accounts": accounts, "packages": packages, "errors": {}}
    answer = agent.send_report(document)
    assert answer.status_code == 200, answer.get_data(as_text=True)


def test_the_first_inventory_becomes_the_hosts_baseline(server: Server, agent: SignedAgent) -> None:
    """accounts.added_since_baseline and software.baseline get the lists the host had when the
    server first saw them; later inventories do not move the baseline, so additions show."""
    before = agent.policy().get_json()["checks"]
    assert before["accounts.added_since_baseline"]["params"]["baseline"] == []

    _inventory_with(agent, 1, ["root", "alice"], ["bash", "openssh-server"])
    checks = agent.policy().get_json()["checks"]
    assert checks["accounts.added_since_baseline"]["params"]["baseline"] == ["alice", "root"]
    assert checks["software.baseline"]["params"]["baseline"] == ["bash", "openssh-server"]

    _inventory_with(agent, 2, ["root", "alice", "mallory"], ["bash", "openssh-server", "qq"])
    checks = agent.policy().get_json()["checks"]
    assert checks["accounts.added_since_baseline"]["params"]["baseline"] == ["alice", "root"]
    assert checks["software.baseline"]["params"]["baseline"] == ["bash", "openssh-server"]

    # Another host of the same group has its own baseline, not this one's.
    other = server.enroll("pc-102")
    _inventory_with(other, 1, ["root", "bob"], ["bash"])
    theirs = other.policy().get_json()["checks"]
    assert theirs["accounts.added_since_baseline"]["params"]["baseline"] == ["bob", "root"]


def test_a_malformed_baseline_is_not_taken(server: Server, agent: SignedAgent) -> None:
    _inventory_with(agent, 1, ["root", ""], ["bash"])  # an empty name: the list is refused
    checks = agent.policy().get_json()["checks"]
    assert checks["accounts.added_since_baseline"]["params"]["baseline"] == []
    assert checks["software.baseline"]["params"]["baseline"] == ["bash"]


def test_rebaseline_takes_the_next_inventory(server: Server, agent: SignedAgent) -> None:
    from tests.server.conftest import run_xunjian

    _inventory_with(agent, 1, ["root"], ["bash"])
    assert agent.policy().get_json()["checks"]["software.baseline"]["params"]["baseline"] == [
        "bash"
    ]
    status, out, err = run_xunjian(
        "server", "agent", "rebaseline", agent.agent_id, "--data", str(server.data)
    )
    assert status == 0, err
    assert "forgotten" in out
    _inventory_with(agent, 2, ["root", "alice"], ["bash", "libreoffice"])
    checks = agent.policy().get_json()["checks"]
    assert checks["software.baseline"]["params"]["baseline"] == ["bash", "libreoffice"]
    assert checks["accounts.added_since_baseline"]["params"]["baseline"] == ["alice", "root"]
    status, _out, err = run_xunjian(
        "server", "agent", "rebaseline", "nope", "--data", str(server.data)
    )
    assert status == 1 and "not an agent id" in err


WINDOWS_SIDS = ["S-1-5-21-1-2-3-500", "S-1-5-21-1-2-3-501", "S-1-5-21-1-2-3-1001"]


def test_a_windows_hosts_baseline_keeps_its_accounts_by_sid(
    server: Server, agent: SignedAgent
) -> None:
    """accounts.windows_added_since_baseline gets the SIDs of the first inventory (names are
    translated and renamed on Windows); a list with anything but SIDs is not taken."""
    document = agent.report(1)
    document["inventory"]["baseline"] = {
        "accounts": None,
        "account_sids": list(reversed(WINDOWS_SIDS)),
        "packages": ["AnyDesk"],
        "errors": {},
    }
    assert agent.send_report(document).status_code == 200
    checks = agent.policy().get_json()["checks"]
    taken = checks["accounts.windows_added_since_baseline"]["params"]["baseline"]
    assert taken == sorted(WINDOWS_SIDS)
    assert checks["accounts.added_since_baseline"]["params"]["baseline"] == []
    assert checks["software.baseline"]["params"]["baseline"] == ["AnyDesk"]

    other = server.enroll("pc-102")
    document = other.report(1)
    document["inventory"]["baseline"] = {
        "account_sids": ["S-1-5-21-1-2-3-500", "Administrator"],
        "packages": ["7-Zip"],
        "errors": {},
    }
    assert other.send_report(document).status_code == 200
    theirs = other.policy().get_json()["checks"]
    assert theirs["accounts.windows_added_since_baseline"]["params"]["baseline"] == []
    assert theirs["software.baseline"]["params"]["baseline"] == ["7-Zip"]
