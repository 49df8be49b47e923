"""Every registered check, judged from tables of facts: no operating system involved.

`CASES` must name every check in the registry, each with at least one passing and one failing
case; test_every_check_has_cases fails otherwise.
"""

from __future__ import annotations

import re

import pytest

from checks.engine import run_check
from checks.errors import NoPrivilege, NotApplicable
from checks.facts import FactName, PasswordState
from checks.factset import FactSource
from checks.registry import REGISTRY
from tests.checks import facts_tables as t
from tests.checks.case import Case
from tests.checks.library_cases import KERNELS_NEWER, KERNELS_SAME, KERNELS_UNKNOWN, MORE_CASES
from tests.checks.windows_baseline_cases import WINDOWS_BASELINE_CASES
from tests.checks.windows_cases import WINDOWS_CASES

F = FactName
PS = PasswordState


ROOT = t.user("root", 0)
ALICE = t.user("alice", 1000)

CASES: dict[str, list[Case]] = {
    "accounts.uid0_extra": [
        Case("only root", {F.USERS: (ROOT, ALICE)}, {("pass", "host")}),
        Case("toor", {F.USERS: (ROOT, t.user("toor", 0))}, {("fail", "user:toor")}),
        Case(
            "allowed by policy",
            {F.USERS: (ROOT, t.user("toor", 0))},
            {("pass", "host")},
            {"allowed": ["toor"]},
        ),
    ],
    "accounts.empty_password": [
        Case(
            "all set",
            {F.USERS: (ROOT, ALICE), F.SHADOW: (t.shadow("root", PS.NO_PASSWORD_LOGIN),)},
            {("pass", "host")},
        ),
        Case(
            "empty in shadow",
            {F.USERS: (ROOT, ALICE), F.SHADOW: (t.shadow("alice", PS.EMPTY),)},
            {("fail", "user:alice")},
        ),
        Case(
            "empty in passwd, shadow unreadable",
            {
                F.USERS: (ROOT, t.user("bob", 1001, password=PS.EMPTY)),
                F.SHADOW: NoPrivilege("/etc/shadow is not readable by this account"),
            },
            {("fail", "user:bob"), ("no_privilege", "file:/etc/shadow")},
        ),
        Case(
            "empty in both files is one finding",
            {
                F.USERS: (t.user("carl", 1002, password=PS.EMPTY),),
                F.SHADOW: (t.shadow("carl", PS.EMPTY),),
            },
            {("fail", "user:carl")},
        ),
        Case(
            "shadow unreadable",
            {F.USERS: (ROOT,), F.SHADOW: NoPrivilege("/etc/shadow is not readable")},
            {("no_privilege", "file:/etc/shadow")},
        ),
        Case(
            "no shadow file",
            {F.USERS: (ROOT,), F.SHADOW: NotApplicable("/etc/shadow does not exist")},
            {("pass", "host")},
        ),
    ],
    "accounts.weak_password_hash": [
        Case(
            "yescrypt and locked md5",
            {F.SHADOW: (t.shadow("a"), t.shadow("b", PS.LOCKED, "md5"))},
            {("pass", "host")},
        ),
        Case(
            "md5 and des",
            {F.SHADOW: (t.shadow("a", scheme="md5"), t.shadow("b", scheme="des"), t.shadow("c"))},
            {("fail", "user:a"), ("fail", "user:b")},
        ),
        Case(
            "sha256 refused by policy",
            {F.SHADOW: (t.shadow("a", scheme="sha256"),)},
            {("fail", "user:a")},
            {"allowed_schemes": ["yescrypt"]},
        ),
    ],
    "accounts.password_age": [
        Case(
            "fresh", {F.SHADOW: (t.shadow("a", age_days=90),), F.CLOCK: t.CLOCK}, {("pass", "host")}
        ),
        Case(
            "old, none, forced change, no password",
            {
                F.SHADOW: (
                    t.shadow("old", age_days=91),
                    t.shadow("undated", age_days=None),
                    t.ShadowEntry("forced", PS.HASHED, "sha512", 0, 0, 99999, 7, None, None),
                    t.shadow("locked", PS.NO_PASSWORD_LOGIN, age_days=4000),
                ),
                F.CLOCK: t.CLOCK,
            },
            {("fail", "user:old"), ("fail", "user:undated")},
        ),
        Case(
            "stricter policy",
            {F.SHADOW: (t.shadow("a", age_days=31),), F.CLOCK: t.CLOCK},
            {("fail", "user:a")},
            {"max_days": 30},
        ),
    ],
    "accounts.unapproved": [
        Case(
            "no list",
            {F.USERS: (ROOT, ALICE), F.LOGIN_DEFS: t.login_defs()},
            {("not_applicable", "host")},
        ),
        Case(
            "all approved, system accounts ignored",
            {
                F.USERS: (
                    ROOT,
                    ALICE,
                    t.user("daemon", 1, "/usr/sbin/nologin"),
                    t.user("nobody", 65534, "/usr/sbin/nologin"),
                    t.user("svc", 1005, "/usr/sbin/nologin"),
                ),
                F.LOGIN_DEFS: t.login_defs(),
            },
            {("pass", "host")},
            {"approved": ["alice"]},
        ),
        Case(
            "stranger",
            {F.USERS: (ROOT, ALICE, t.user("mallory", 1001)), F.LOGIN_DEFS: t.login_defs()},
            {("fail", "user:mallory")},
            {"approved": ["alice"]},
        ),
        Case(
            "UID_MIN from login.defs",
            {F.USERS: (ROOT, t.user("early", 600)), F.LOGIN_DEFS: t.login_defs(uid_min=500)},
            {("fail", "user:early")},
            {"approved": ["alice"]},
        ),
    ],
    "accounts.duplicate_uid": [
        Case("distinct", {F.USERS: (ROOT, ALICE)}, {("pass", "host")}),
        Case(
            "shared",
            {F.USERS: (ROOT, ALICE, t.user("alias", 1000))},
            {("fail", "uid:1000")},
        ),
        Case(
            "second UID 0",
            {F.USERS: (ROOT, t.user("toor", 0), ALICE)},
            {("fail", "uid:0")},
        ),
    ],
    "password.policy": [
        Case(
            "pwquality in effect",
            {F.LOGIN_DEFS: t.login_defs(90), F.PWQUALITY: t.pwquality(12, 3)},
            {
                ("pass", "policy:min_length"),
                ("pass", "policy:complexity"),
                ("pass", "policy:max_age"),
            },
        ),
        Case(
            "module default minlen and credits",
            {
                F.LOGIN_DEFS: t.login_defs(60),
                F.PWQUALITY: t.pwquality(credits=(-1, -1, -1, 0), sources=()),
            },
            {
                ("pass", "policy:min_length"),
                ("pass", "policy:complexity"),
                ("pass", "policy:max_age"),
            },
        ),
        Case(
            "Debian defaults",
            {
                F.LOGIN_DEFS: t.login_defs(99999),
                F.PWQUALITY: t.pwquality(module=None, sources=()),
            },
            {
                ("fail", "policy:min_length"),
                ("fail", "policy:complexity"),
                ("fail", "policy:max_age"),
            },
        ),
        Case(
            "pwquality.conf that PAM does not use",
            {
                F.LOGIN_DEFS: t.login_defs(None),
                F.PWQUALITY: t.pwquality(12, 4, module=None, pam_files_read=True),
            },
            {
                ("fail", "policy:min_length"),
                ("fail", "policy:complexity"),
                ("fail", "policy:max_age"),
            },
        ),
        Case(
            "PASS_MIN_LEN alone, too few classes, too long an age",
            {F.LOGIN_DEFS: t.login_defs(180, min_len=8), F.PWQUALITY: t.pwquality(6, 2)},
            {
                ("pass", "policy:min_length"),
                ("fail", "policy:complexity"),
                ("fail", "policy:max_age"),
            },
        ),
        Case(
            "stricter parameters",
            {F.LOGIN_DEFS: t.login_defs(90), F.PWQUALITY: t.pwquality(10, 3)},
            {
                ("fail", "policy:min_length"),
                ("fail", "policy:complexity"),
                ("fail", "policy:max_age"),
            },
            {"min_length": 12, "min_classes": 4, "max_days": 60},
        ),
    ],
    "services.listening": [
        Case(
            "ssh and loopback only",
            {F.LISTENING_SOCKETS: (t.tcp(22), t.tcp(22, "::"), t.tcp(631, "127.0.0.1"), t.udp(68))},
            {("pass", "host")},
        ),
        Case(
            "telnet and web",
            {
                F.LISTENING_SOCKETS: (t.tcp(22), t.tcp(23), t.tcp(80, "::"), t.tcp(80)),
                F.LISTENING_PROGRAMS: (
                    t.program(5, "/usr/sbin/inetutils-telnetd", ("tcp/23",), "x"),
                ),
            },
            {("fail", "port:tcp/23"), ("fail", "port:tcp/80")},
        ),
        Case(
            "loopback judged on request",
            {
                F.LISTENING_SOCKETS: (t.tcp(5432, "127.0.0.1"), t.tcp(6379, "::1")),
                F.LISTENING_PROGRAMS: NoPrivilege("the process table is not readable"),
            },
            {("fail", "port:tcp/5432"), ("fail", "port:tcp/6379")},
            {"include_loopback": True},
        ),
        Case(
            "approved list from policy",
            {F.LISTENING_SOCKETS: (t.tcp(443),)},
            {("pass", "host")},
            {"approved_tcp_ports": [443]},
        ),
    ],
    "network.dhcp_server": [
        Case("client only", {F.LISTENING_SOCKETS: (t.udp(68), t.tcp(67))}, {("pass", "host")}),
        Case("server", {F.LISTENING_SOCKETS: (t.udp(67),)}, {("fail", "port:udp/67")}),
        Case(
            "approved server",
            {F.LISTENING_SOCKETS: (t.udp(67),)},
            {("pass", "port:udp/67")},
            {"approved_dhcp_server": True},
        ),
    ],
    "patch.reboot_required": [
        Case(
            "no flag",
            {F.OS_RELEASE: t.DEBIAN, F.REBOOT_REQUIRED: t.reboot(False), F.KERNELS: KERNELS_SAME},
            {("pass", "host")},
        ),
        Case(
            "newer kernel installed than running",
            {F.OS_RELEASE: t.ROCKY, F.REBOOT_REQUIRED: t.reboot(False), F.KERNELS: KERNELS_NEWER},
            {("fail", "kernel")},
        ),
        Case(
            "flag",
            {
                F.OS_RELEASE: t.DEBIAN,
                F.REBOOT_REQUIRED: t.reboot(True, "linux-image-amd64"),
                F.KERNELS: KERNELS_UNKNOWN,
            },
            {("fail", "host")},
        ),
        Case(
            "not a Debian system",
            {F.OS_RELEASE: t.ROCKY, F.REBOOT_REQUIRED: t.reboot(True), F.KERNELS: KERNELS_UNKNOWN},
            {("not_applicable", "host")},
        ),
    ],
    "patch.security_pending": [
        Case(
            "only ordinary",
            {
                F.PENDING_UPDATES: (t.update("vim", False),),
                F.PACKAGE_ACTIVITY: t.activity(lists_days=1),
                F.CLOCK: t.CLOCK,
            },
            {("pass", "host")},
        ),
        Case(
            "security waiting",
            {
                F.PENDING_UPDATES: (t.update("openssl", True), t.update("vim", False)),
                F.PACKAGE_ACTIVITY: t.activity(lists_days=1),
                F.CLOCK: t.CLOCK,
            },
            {("fail", "host")},
        ),
        Case(
            "nothing pending by stale lists is not a pass",
            {
                F.PENDING_UPDATES: (),
                F.PACKAGE_ACTIVITY: t.activity(lists_days=40),
                F.CLOCK: t.CLOCK,
            },
            {("fail", "host")},
        ),
        Case(
            "commands off",
            {F.PENDING_UPDATES: NotApplicable("commands are not run")},
            {("not_applicable", "host")},
        ),
    ],
    "ssh.root_login": [
        Case("default", {F.SSHD_CONFIG: t.sshd()}, {("pass", "service:sshd")}),
        Case("no", {F.SSHD_CONFIG: t.sshd(PermitRootLogin="no")}, {("pass", "service:sshd")}),
        Case("yes", {F.SSHD_CONFIG: t.sshd(PermitRootLogin="YES")}, {("fail", "service:sshd")}),
        Case(
            "no server",
            {F.SSHD_CONFIG: NotApplicable("no sshd_config")},
            {("not_applicable", "host")},
        ),
    ],
    "ssh.empty_passwords": [
        Case("default", {F.SSHD_CONFIG: t.sshd()}, {("pass", "service:sshd")}),
        Case(
            "yes", {F.SSHD_CONFIG: t.sshd(PermitEmptyPasswords="yes")}, {("fail", "service:sshd")}
        ),
    ],
    "files.account_file_permissions": [
        Case(
            "Debian's modes",
            {F.SENSITIVE_FILES: t.SAFE_FILES, F.USERS: (ROOT, ALICE)},
            {("pass", "host")},
        ),
        Case(
            "hashes left in a world-readable passwd (pwunconv)",
            {
                F.SENSITIVE_FILES: t.SAFE_FILES,
                F.USERS: (ROOT, t.user("teacher", 1001, password=PasswordState.HASHED)),
            },
            {("fail", "file:/etc/passwd")},
        ),
        Case(
            "world-readable shadow, group-writable passwd, foreign owner",
            {
                F.USERS: (ROOT, ALICE),
                F.SENSITIVE_FILES: (
                    t.file_stat("/etc/passwd", 0o664),
                    t.file_stat("/etc/group", 0o644, uid=1000),
                    t.file_stat("/etc/shadow", 0o644),
                    t.file_stat("/etc/gshadow", 0o640, gid=100, group="users"),
                ),
            },
            {
                ("fail", "file:/etc/passwd"),
                ("fail", "file:/etc/group"),
                ("fail", "file:/etc/shadow"),
                ("fail", "file:/etc/gshadow"),
            },
        ),
    ],
}

CASES.update(MORE_CASES)
CASES.update(WINDOWS_CASES)
CASES.update(WINDOWS_BASELINE_CASES)

CASE_PARAMS = [
    pytest.param(check_id, case, id=f"{check_id}:{case.name}")
    for check_id, cases in CASES.items()
    for case in cases
]


@pytest.mark.parametrize(("check_id", "case"), CASE_PARAMS)
def test_check_judges_fact_table(check_id: str, case: Case) -> None:
    spec = REGISTRY[check_id]
    source = FactSource.from_values(case.facts)
    results = run_check(spec, source, spec.platforms[0], case.params)
    assert sorted((r.status.value, r.resource) for r in results) == sorted(case.expected)
    for result in results:
        assert result.check_id == check_id
        assert result.rules == list(spec.rules)
        assert result.message.strip()


def test_every_check_has_cases() -> None:
    assert set(CASES) == set(REGISTRY), "each registered check needs fact-table cases here"
    for check_id, cases in CASES.items():
        statuses = {status for case in cases for status, _ in case.expected}
        assert {"pass", "fail"} <= statuses, f"{check_id} needs a passing and a failing case"


def test_each_weak_password_source_has_its_own_sentence_in_both_languages() -> None:
    from checks.collectors.linux.weak_passwords import candidates_for
    from checks.library.accounts import WEAK_PASSWORD_SENTENCES, weak_password_sentence

    kinds = {kind for _, kind in candidates_for("teacher", ["school123"])}
    assert kinds == set(WEAK_PASSWORD_SENTENCES)
    sentences = [weak_password_sentence(kind, "teacher") for kind in sorted(kinds)]
    for english, chinese in sentences:
        assert "teacher" in english and "teacher" in chinese
        assert re.search(r"[\u4e00-\u9fff]", chinese) and not re.search(r"[\u4e00-\u9fff]", english)
    # No two sources share a sentence, and none reads like "accepts a same as ... password".
    assert len({s for pair in sentences for s in pair}) == 2 * len(kinds)
    assert not any("a same as" in english for english, _ in sentences)


def test_baseline_evidence_names_the_folded_dependencies() -> None:
    from checks.facts import InstalledPackage

    packages = (
        InstalledPackage("gimp", "2.10", "amd64", "graphics", "dpkg", depends=("libgimp2.0",)),
        InstalledPackage("libgimp2.0", "2.10", "amd64", "libs", "dpkg", "", True, ("libbabl",)),
        InstalledPackage("libbabl", "0.1", "amd64", "libs", "dpkg", "", True),
    )
    spec = REGISTRY["software.baseline"]
    results = run_check(
        spec, FactSource.from_values({F.PACKAGES: packages}), "linux", {"baseline": []}
    )
    assert [r.status.value for r in results] == ["not_applicable"]
    results = run_check(
        spec, FactSource.from_values({F.PACKAGES: packages}), "linux", {"baseline": ["bash"]}
    )
    assert [(r.resource, r.evidence["dependencies"]) for r in results] == [
        ("package:gimp", ["libbabl", "libgimp2.0"])
    ]
    assert "with 2 dependencies" in results[0].message
