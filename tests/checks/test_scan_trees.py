"""`xunjian scan --root TREE` as a real process on trees made by real tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from checks.api import collect_baseline, run_scan
from checks.registry import REGISTRY
from tests.checks.hosttree import HostTree, base_tree, clean_policy, faulty_policy, run, tool
from tests.checks.scan_helpers import failures, scan, scan_json

# Commands are not run on a host tree.
NEEDS_COMMANDS = {"patch.security_pending", "patch.updates_pending"}
# Without values from a server's policy, these cannot judge (network.identity only reports).
NEEDS_POLICY = {
    "accounts.unapproved",
    "accounts.admin_members",
    "accounts.added_since_baseline",
    "accounts.password_changed_since_handover",
    "software.allow_list",
    "software.baseline",
    "backup.freshness",
    "network.identity",
}
NOT_APPLICABLE_ON_TREES = NEEDS_COMMANDS | NEEDS_POLICY


def test_faulty_tree_reports_every_planted_fault_and_nothing_else(
    faulty: tuple[HostTree, set[tuple[str, str]]],
) -> None:
    tree, expected = faulty
    returncode, results = scan_json(tree.root)
    assert failures(results) == expected
    assert returncode == 1
    assert not [r for r in results if r["status"] == "error"]


def test_clean_twin_has_no_failure(clean: HostTree) -> None:
    returncode, results = scan_json(clean.root)
    statuses = {(r["check_id"], r["status"]) for r in results}
    assert returncode == 0, failures(results)
    assert {check_id for check_id, _ in statuses} == set(REGISTRY)
    for check_id in REGISTRY:
        linux = "linux" in REGISTRY[check_id].platforms  # Windows-only checks say so
        wanted = "not_applicable" if check_id in NOT_APPLICABLE_ON_TREES or not linux else "pass"
        assert {s for c, s in statuses if c == check_id} == {wanted}, check_id


def test_commands_are_not_run_under_root_and_say_why(clean: HostTree) -> None:
    # Under --root pending updates come from apt's lists (test_debroot.py); the trees keep
    # only the Release files, so there is nothing to compare and the result says why.
    _, results = scan_json(clean.root)
    pending = [r for r in results if r["check_id"] == "patch.security_pending"]
    assert [r["status"] for r in pending] == ["not_applicable"]
    assert "no package lists" in pending[0]["message"]
    assert "commands are not run" in pending[0]["message"]


def test_cleartext_port_is_reported_as_high(
    faulty: tuple[HostTree, set[tuple[str, str]]],
) -> None:
    _, results = scan_json(faulty[0].root)
    by_resource = {r["resource"]: r for r in results if r["check_id"] == "services.listening"}
    assert by_resource["port:tcp/23"]["severity"] == "high"
    assert by_resource["port:tcp/8080"]["severity"] == "medium"
    assert by_resource["port:tcp/8080"]["evidence"]["addresses"] == ["::"]


def test_no_password_hash_reaches_the_output(
    faulty: tuple[HostTree, set[tuple[str, str]]],
) -> None:
    tree = faulty[0]
    hashes = [
        line.split(":")[1]
        for line in tree.path("/etc/shadow").read_text().splitlines()
        if line.split(":")[1].startswith("$")
    ]
    assert len(hashes) == 4  # bob's MD5, carol's SHA-512, pi's yescrypt, eve's SHA-512
    for extra in ((), ("--json",)):
        output = scan(tree.root, *extra).stdout
        assert "weak scheme md5" in output
        assert "factory default password" in output
        for password in ("raspberry", "eve123"):
            assert password not in output
        for secret in hashes:
            assert secret not in output
            assert secret.split("$")[-1] not in output


def test_table_output_and_exit_status(faulty: tuple[HostTree, set[tuple[str, str]]]) -> None:
    completed = scan(faulty[0].root)
    assert completed.returncode == 1
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["SEVERITY", "STATUS", "CHECK", "RESOURCE", "MESSAGE"]
    assert any("accounts.uid0_extra" in line and "user:toor" in line for line in lines)
    assert "fail" in lines[-1]


def test_root_that_is_not_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-tree"
    completed = scan(missing)
    assert completed.returncode == 2
    assert "not a directory" in completed.stderr
    assert str(missing) in completed.stderr
    assert completed.stdout == ""


def test_unreadable_shadow_is_no_privilege_not_all_good(clean: HostTree, trees_dir: Path) -> None:
    copy = trees_dir / "clean-for-nobody"
    shutil.copytree(clean.root, copy, symlinks=True)
    shadow = copy / "etc/shadow"
    assert shadow.stat().st_mode & 0o004 == 0, "pwconv leaves /etc/shadow unreadable to others"
    nobody = [tool("setpriv"), "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    _, results = scan_json(copy, prefix=nobody)
    by_check: dict[str, set[str]] = {}
    for result in results:
        by_check.setdefault(result["check_id"], set()).add(result["status"])
    for check_id in (
        "accounts.weak_password_hash",
        "accounts.password_age",
        "accounts.weak_password",
    ):
        assert by_check[check_id] == {"no_privilege"}, check_id
    assert by_check["accounts.empty_password"] == {"no_privilege"}
    shadow_result = next(r for r in results if r["check_id"] == "accounts.empty_password")
    assert shadow_result["resource"] == "file:/etc/shadow"
    assert "/etc/shadow" in shadow_result["message"]
    # What needs no secret still works for the unprivileged account.
    assert by_check["accounts.uid0_extra"] == {"pass"}


def test_policy_parameters_reach_checks_on_a_tree(
    faulty: tuple[HostTree, set[tuple[str, str]]],
) -> None:
    tree = faulty[0]
    policy = {
        "accounts.unapproved": {"params": {"approved": ["alice", "bob", "carol"]}},
        "services.listening": {"params": {"approved_tcp_ports": [22, 23, 8080]}},
        "accounts.uid0_extra": {"enabled": False},
    }
    results = run_scan(policy, root=tree.root)
    found = failures(results)
    assert ("accounts.unapproved", "user:dave") in found
    assert not [
        r for r in results if r["check_id"] == "services.listening" and r["status"] == "fail"
    ]
    assert not [r for r in results if r["check_id"] == "accounts.uid0_extra"]


def test_shadowless_tree_still_judges_passwd(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "old")
    tree.useradd("eve")
    # An empty second field in /etc/passwd is an empty password even with no shadow file.
    passwd = tree.path("/etc/passwd")
    passwd.write_text(passwd.read_text().replace("eve:x:", "eve::"))
    tree.path("/etc/shadow").unlink()
    results = run_scan({}, root=tree.root)
    assert ("accounts.empty_password", "user:eve") in failures(results)


def test_faulty_tree_under_a_policy_reports_the_policy_bound_faults(
    faulty: tuple[HostTree, set[tuple[str, str]]],
) -> None:
    tree, expected = faulty
    policy, added = faulty_policy()
    results = run_scan(policy, root=tree.root)
    assert failures(results) == expected | added
    assert not [r for r in results if r["status"] == "error"]


def test_clean_twin_passes_every_check_under_its_policy(clean: HostTree) -> None:
    results = run_scan(clean_policy(clean), root=clean.root)
    by_check: dict[str, set[str]] = {}
    for result in results:
        by_check.setdefault(result["check_id"], set()).add(result["status"])
    for check_id in REGISTRY:
        not_judged = NEEDS_COMMANDS | {"network.identity"}
        linux = "linux" in REGISTRY[check_id].platforms  # Windows-only checks say so
        wanted = {"not_applicable"} if check_id in not_judged or not linux else {"pass"}
        assert by_check[check_id] == wanted, (check_id, results)


def test_baseline_taken_from_the_clean_twin_passes_its_baseline_checks(
    clean: HostTree, faulty: tuple[HostTree, set[tuple[str, str]]]
) -> None:
    baseline = collect_baseline(clean.root)
    assert {"alice", "bob", "root"} <= set(baseline["accounts"])
    assert "clamav-daemon" in baseline["packages"] and baseline["errors"] == {}
    policy = {
        "accounts.added_since_baseline": {"params": {"baseline": baseline["accounts"]}},
        "software.baseline": {"params": {"baseline": baseline["packages"]}},
    }
    on_clean = run_scan(policy, root=clean.root)
    judged = [r for r in on_clean if r["check_id"] in policy]
    assert {r["status"] for r in judged} == {"pass"}
    # The same baseline held against the faulty host names what it added.
    found = failures(run_scan(policy, root=faulty[0].root))
    assert ("accounts.added_since_baseline", "user:toor") in found
    assert ("software.baseline", "package:x11vnc") in found
    assert ("software.baseline", "package:openssh-server") not in found


def test_baseline_says_why_a_list_is_missing(tmp_path: Path) -> None:
    baseline = collect_baseline(tmp_path)
    assert baseline["accounts"] is None and baseline["packages"] is None
    assert "/etc/passwd" in baseline["errors"]["accounts"]
    assert "package database" in baseline["errors"]["packages"]


def test_scan_command_takes_the_servers_policy_document(
    faulty: tuple[HostTree, set[tuple[str, str]]], tmp_path: Path
) -> None:
    """`xunjian scan --policy FILE` with the document an agent keeps as policy.json finds the
    policy-bound faults that a scan without it cannot judge."""
    tree, _ = faulty
    policy, added = faulty_policy()
    document = tmp_path / "policy.json"
    document.write_text(json.dumps({"version": 3, "group": "lab", "checks": policy}))
    completed = scan(tree.root, "--json", "--policy", str(document))
    assert completed.returncode == 1, completed.stderr
    assert added <= failures(json.loads(completed.stdout))


@pytest.mark.parametrize(
    ("content", "reason"),
    [("not json", "is not JSON"), ('{"checks": [1]}', "must hold"), ('{"a": 1}', "must hold")],
)
def test_a_bad_policy_file_is_a_usage_error(tmp_path: Path, content: str, reason: str) -> None:
    document = tmp_path / "policy.json"
    document.write_text(content)
    completed = scan(tmp_path, "--policy", str(document))
    assert completed.returncode == 2
    assert reason in completed.stderr


def test_hashes_moved_into_passwd_by_pwunconv_are_judged_and_flagged(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "unconv")
    tree.useradd("teacher")
    tree.set_known_password("teacher", "teacher@123", "yescrypt")
    run(["pwunconv", "--root", str(tree.root)])
    results = run_scan({}, root=tree.root)
    by_check = {(r["check_id"], r["resource"]): r for r in results}
    loud = by_check[("files.account_file_permissions", "file:/etc/passwd")]
    assert (loud["status"], loud["severity"]) == ("fail", "critical")
    assert "teacher" in loud["message"] and "$y$" not in json.dumps(results)
    assert by_check[("accounts.weak_password", "user:teacher")]["status"] == "fail"
    # The other password checks read the hashes where they are instead of giving up.
    for check_id in ("accounts.weak_password_hash", "accounts.password_age"):
        assert {r["status"] for r in results if r["check_id"] == check_id} != {"not_applicable"}


def test_every_judgement_on_the_trees_is_said_by_a_known_message_id(
    clean: HostTree, faulty: tuple[HostTree, set[tuple[str, str]]]
) -> None:
    """Issue 13 item 5, on real trees: each pass and fail `xunjian scan` prints carries a
    message id checks/messages.py knows, and its parameters give back the English printed."""
    from checks.messages import MESSAGES, render

    for root in (clean.root, faulty[0].root):
        _, results = scan_json(root)
        judged = [r for r in results if r["status"] in ("pass", "fail")]
        assert judged
        for result in judged:
            where = (result["check_id"], result["resource"], result["message"])
            assert result.get("message_id") in MESSAGES, where
            params = result.get("params", {})
            assert render(result["message_id"], params, "zh") is not None, where
            assert render(result["message_id"], params, "en") == result["message"], where
