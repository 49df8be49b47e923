"""How the engine turns policies, facts and crashing checks into results."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from checks.engine import run_check, run_checks
from checks.errors import CollectError, NoPrivilege
from checks.facts import FactName
from checks.factset import Facts, FactSource
from checks.host import HostContext
from checks.model import Finding, Status
from checks.registry import REGISTRY
from tests.checks import facts_tables as t
from tests.checks.hosttree import HostTree

LISTENING = REGISTRY["services.listening"]
UID0 = REGISTRY["accounts.uid0_extra"]
SOCKETS = {
    FactName.LISTENING_SOCKETS: (t.tcp(22), t.tcp(8080)),
    FactName.LISTENING_PROGRAMS: (),
}


def _statuses(results: list[Any]) -> list[tuple[str, str]]:
    return [(r.check_id, r.status.value) for r in results]


def test_a_check_that_raises_becomes_an_error() -> None:
    def broken(facts: Facts, params: dict[str, Any]) -> list[Finding]:
        raise ZeroDivisionError("division by zero")

    spec = dataclasses.replace(UID0, function=broken)
    [result] = run_check(spec, FactSource.from_values({FactName.USERS: ()}), "linux", {})
    assert result.status is Status.ERROR
    assert "ZeroDivisionError" in result.message


def test_a_check_that_returns_nothing_is_an_error_not_silence() -> None:
    spec = dataclasses.replace(UID0, function=lambda facts, params: [])
    [result] = run_check(spec, FactSource.from_values({FactName.USERS: ()}), "linux", {})
    assert result.status is Status.ERROR
    assert "no result" in result.message


def test_reading_an_undeclared_fact_is_an_error() -> None:
    spec = dataclasses.replace(UID0, function=lambda facts, params: [facts.shadow])
    source = FactSource.from_values({FactName.USERS: (), FactName.SHADOW: ()})
    [result] = run_check(spec, source, "linux", {})
    assert result.status is Status.ERROR
    assert "without declaring" in result.message


def test_collector_failures_map_to_their_status() -> None:
    for raised, status in (
        (NoPrivilege("/etc/shadow is not readable"), Status.NO_PRIVILEGE),
        (CollectError("/etc/passwd line 3 is malformed"), Status.ERROR),
    ):
        source = FactSource.from_values({FactName.USERS: raised})
        [result] = run_check(UID0, source, "linux", {})
        assert result.status is status
        assert str(raised) in result.message


def test_other_platforms_are_not_applicable_with_a_reason() -> None:
    [result] = run_check(UID0, FactSource.from_values({}), "windows", {})
    assert result.status is Status.NOT_APPLICABLE
    assert "linux" in result.message and "windows" in result.message


def test_wrong_parameter_type_is_an_error_for_that_check_only() -> None:
    policy = {"services.listening": {"params": {"approved_tcp_ports": "22,80"}}}
    source = FactSource.from_values({**SOCKETS, FactName.USERS: (t.user("root", 0),)})
    results = run_checks(source, "linux", policy, specs=[LISTENING, UID0])
    assert _statuses(results) == [("services.listening", "error"), ("accounts.uid0_extra", "pass")]
    assert "approved_tcp_ports must be list[int]" in results[0].message


def test_boolean_is_not_a_number() -> None:
    policy = {"services.listening": {"params": {"approved_tcp_ports": [True]}}}
    [result] = run_checks(FactSource.from_values(SOCKETS), "linux", policy, specs=[LISTENING])
    assert result.status is Status.ERROR


def test_unknown_parameters_are_ignored() -> None:
    policy = {"services.listening": {"params": {"approved_tcp_ports": [22, 8080], "color": 1}}}
    [result] = run_checks(FactSource.from_values(SOCKETS), "linux", policy, specs=[LISTENING])
    assert result.status is Status.PASS


def test_malformed_policy_entries_are_errors() -> None:
    for entry in ({"enabled": "yes"}, {"params": [1]}, "on"):
        policy = {"services.listening": entry}
        [result] = run_checks(FactSource.from_values(SOCKETS), "linux", policy, specs=[LISTENING])  # type: ignore[dict-item]
        assert result.status is Status.ERROR, entry


def test_disabled_checks_do_not_run_and_unknown_checks_are_reported(clean: HostTree) -> None:
    policy = {
        "accounts.uid0_extra": {"enabled": False},
        "accounts.from_the_future": {"enabled": True},
        "accounts.retired": {"enabled": False},
    }
    results = run_checks(FactSource(HostContext.tree(clean.root)), "linux", policy)
    ids = [r.check_id for r in results]
    assert "accounts.uid0_extra" not in ids
    assert "accounts.retired" not in ids
    [unknown] = [r for r in results if r.check_id == "accounts.from_the_future"]
    assert unknown.status is Status.ERROR and "does not know" in unknown.message


def test_each_fact_is_collected_once_per_scan(clean: HostTree) -> None:
    source = FactSource(HostContext.tree(clean.root))
    results = run_checks(source, "linux")
    users_readers = [s for s in REGISTRY.values() if FactName.USERS in s.facts]
    assert len(users_readers) >= 3
    assert source.collections[FactName.USERS] == 1
    assert set(source.collections.values()) == {1}
    assert len({r.check_id for r in results}) == len(REGISTRY)


def test_a_failed_collection_is_remembered_not_retried(tmp_path: Path) -> None:
    tree = HostTree(tmp_path)
    tree.write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nbroken-line\n")
    source = FactSource(HostContext.tree(tree.root))
    specs = [s for s in REGISTRY.values() if FactName.USERS in s.facts]
    results = run_checks(source, "linux", specs=specs)
    assert {r.status for r in results} == {Status.ERROR}
    assert all("/etc/passwd line 2" in r.message for r in results)
    assert source.collections[FactName.USERS] == 1


def test_finding_severity_overrides_the_checks() -> None:
    sockets = {
        FactName.LISTENING_SOCKETS: (t.tcp(23),),
        FactName.LISTENING_PROGRAMS: NoPrivilege("the process table is not readable"),
    }
    [result] = run_check(LISTENING, FactSource.from_values(sockets), "linux", {})
    assert (result.severity.value, LISTENING.severity.value) == ("high", "medium")
