"""Collectors of the full Linux library, on trees built by real tools and on this machine."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from checks.api import run_scan
from checks.collectors.linux.antivirus import (
    collect_antivirus,
    collect_scan_log,
    parse_cvd_header,
    parse_scan_log,
)
from checks.collectors.linux.desktop import collect_desktop_settings, gvariant_text
from checks.collectors.linux.firewall import (
    collect_firewall,
    inbound_from_iptables_save,
    inbound_from_nft_text,
)
from checks.collectors.linux.identity import collect_backup_location
from checks.collectors.linux.logins import collect_last_logins
from checks.collectors.linux.logs import collect_log_setup, parse_timespan
from checks.collectors.linux.packages import (
    collect_kernels,
    collect_package_activity,
    collect_packages,
    newest_apt_history_install,
)
from checks.collectors.linux.pam import collect_pam_history, collect_pam_lockout
from checks.collectors.linux.processes import (
    _rpm_owner,
    collect_listening_programs,
    collect_processes,
)
from checks.collectors.linux.rpmversion import vercmp
from checks.collectors.linux.special_files import collect_special_files
from checks.collectors.linux.ssh_keys import collect_authorized_keys
from checks.collectors.linux.sudoers import collect_sudo_rules
from checks.collectors.linux.system import collect_pending_updates, parse_dnf_updates
from checks.collectors.linux.weak_passwords import (
    VerdictCache,
    candidates_for,
    collect_weak_passwords,
    crypt_library,
    find_weak_passwords,
    organisation_candidates,
    organisation_key,
)
from checks.errors import NotApplicable
from checks.host import HostContext
from checks.registry import REGISTRY
from checks.runner import CommandRunner
from tests.checks.hosttree import (
    GNOME_SCHEMAS,
    NFTABLES_DEFAULT_DENY,
    PAM_AUTH_STOCK,
    PAM_AUTH_WITH_FAILLOCK,
    HostTree,
    base_tree,
    build_rpm,
    clamscan_summary,
    cvd_header,
    rpm_tree,
    run,
    tool,
)
from tests.checks.scan_helpers import REPO

Faulty = tuple[HostTree, set[tuple[str, str]]]


def rpm_owner_of(host: HostContext, path: str) -> str | None:
    return _rpm_owner(host, "/var/lib/rpm", path)


def _host(tree: HostTree) -> HostContext:
    return HostContext.tree(tree.root)


def test_packages_from_the_status_file_dpkg_wrote(faulty: Faulty) -> None:
    packages = {p.name: p for p in collect_packages(_host(faulty[0]))}
    assert set(packages) == {
        "openssh-server",
        "cups-daemon",
        "sl",
        "x11vnc",
        "transmission-daemon",
    }
    assert (packages["sl"].section, packages["sl"].version, packages["sl"].manager) == (
        "games",
        "1.0-1",
        "dpkg",
    )


def test_removed_package_is_gone_and_no_database_is_not_applicable(
    tmp_path: Path, faulty: Faulty
) -> None:
    tree = HostTree(tmp_path / "removal")
    deb = next((faulty[0].root.parent / "debs-faulty").glob("sl.deb"))
    tree.install_packages([deb])
    assert [p.name for p in collect_packages(_host(tree))] == ["sl"]
    run(
        [
            "dpkg",
            f"--admindir={tree.path('/var/lib/dpkg')}",
            f"--instdir={tree.root}",
            "--force-not-root",
            "--purge",
            "sl",
        ]
    )
    assert collect_packages(_host(tree)) == ()
    with pytest.raises(NotApplicable, match="package database"):
        collect_packages(HostContext.tree(tmp_path / "empty"))


def test_rpm_packages_and_owners_read_by_rpm_itself(tmp_path: Path) -> None:
    rpms = [
        build_rpm(tmp_path / "build", "nmap", "Applications/System", "/usr/bin/nmap"),
        build_rpm(tmp_path / "build", "nginx", "System Environment/Daemons", "/usr/sbin/nginx"),
    ]
    tree = rpm_tree(tmp_path / "rhel", rpms)
    with_commands = HostContext.tree(tree.root, CommandRunner())
    packages = {p.name: p for p in collect_packages(with_commands)}
    assert set(packages) == {"nmap", "nginx"}
    assert (packages["nmap"].version, packages["nmap"].section, packages["nmap"].manager) == (
        "1.0-1",
        "Applications/System",
        "rpm",
    )
    # Without commands (xunjian scan --root), the same from the SQLite database's headers.
    assert sorted(collect_packages(_host(tree)), key=lambda p: p.name) == sorted(
        collect_packages(with_commands), key=lambda p: p.name
    )
    assert rpm_owner_of(with_commands, "/usr/sbin/nginx") == "nginx"
    assert rpm_owner_of(with_commands, "/usr/local/bin/miner") is None


ROCKY_OS_RELEASE = (
    'NAME="Rocky Linux"\nVERSION_ID="9.4"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
)
# An advisory in updateinfo.xml's format (the file dnf reads; modifyrepo_c adds it to repomd).
UPDATEINFO = """<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="security@example.org" status="final" type="security" version="2">
    <id>RLSA-2026:0001</id><title>Important: nginx security update</title>
    <pkglist><collection short="baseos">
      <package name="nginx" arch="noarch" epoch="0" version="1.1" release="1">
        <filename>nginx-1.1-1.noarch.rpm</filename>
      </package>
    </collection></pkglist>
  </update>
  <update from="bugs@example.org" status="final" type="bugfix" version="2">
    <id>RLBA-2026:0002</id><title>nmap bug fix</title>
    <pkglist><collection short="baseos">
      <package name="nmap" arch="noarch" epoch="0" version="1.0^git2" release="1">
        <filename>nmap-1.0^git2-1.noarch.rpm</filename>
      </package>
    </collection></pkglist>
  </update>
</updates>
"""


def test_red_hat_pending_updates_from_the_rpm_database_and_dnf_cache(tmp_path: Path) -> None:
    build = tmp_path / "build"
    # Built apart: the repository's htop 1:3.2 has the same file name as the installed 3.2.
    first = tmp_path / "build-installed"
    installed = [
        build_rpm(first, "nginx", "System Environment/Daemons", "/usr/sbin/nginx"),
        build_rpm(first, "nmap", "Applications/System", "/usr/bin/nmap"),
        build_rpm(first, "htop", "Applications/System", "/usr/bin/htop", "3.2"),
    ]
    repo = tmp_path / "repo"
    repo.mkdir()
    for rpm in (
        build_rpm(build, "nginx", "System Environment/Daemons", "/usr/sbin/nginx", "1.1"),
        build_rpm(build, "nginx", "System Environment/Daemons", "/usr/sbin/nginx", "1.1~rc1"),
        build_rpm(build, "nmap", "Applications/System", "/usr/bin/nmap", "1.0^git2"),
        build_rpm(build, "htop", "Applications/System", "/usr/bin/htop", "3.10"),
        build_rpm(build, "htop", "Applications/System", "/usr/bin/htop", "3.2", epoch=1),
        build_rpm(build, "tmux", "Applications/System", "/usr/bin/tmux"),
    ):
        shutil.copy(rpm, repo)
    run(["createrepo_c", "--quiet", str(repo)])
    (tmp_path / "updateinfo.xml").write_text(UPDATEINFO)
    run(["modifyrepo_c", str(tmp_path / "updateinfo.xml"), str(repo / "repodata")])
    tree = rpm_tree(tmp_path / "rocky", installed)
    tree.write("/etc/os-release", ROCKY_OS_RELEASE)
    host = HostContext.tree(tree.root)
    with pytest.raises(NotApplicable, match="no repository metadata"):
        collect_pending_updates(host)
    shutil.copytree(repo / "repodata", tree.path("/var/cache/dnf/baseos-0f5e2c4a61c3d7e2/repodata"))
    pending = {
        (u.package, u.current_version, u.new_version, u.is_security)
        for u in collect_pending_updates(host)
    }
    # nginx 1.1 (not its 1.1~rc1) with an advisory; nmap's snapshot sorts after 1.0; htop's
    # epoch 1 beats 3.10; tmux is not installed.
    assert pending == {
        ("nginx", "1.0-1", "1.1-1", True),
        ("nmap", "1.0-1", "1.0^git2-1", False),
        ("htop", "3.2-1", "1:3.2-1", False),
    }
    # xunjian scan --root judges them: one security update waits.
    only = {c: {"enabled": False} for c in REGISTRY if c != "patch.security_pending"}
    [result] = run_scan(only, root=tree.root)
    assert (result["status"], result["evidence"]["count"]) == ("fail", 1)


def test_rpm_version_order_is_rpms_own() -> None:
    versions = [
        "1.0",
        "1.0~rc1",
        "1.0^git1",
        "1.0.1",
        "1.0a",
        "1.0.a",
        "10",
        "9",
        "1.01",
        "1.1",
        "2.0~~",
        "2.0~",
        "1_0",
        "a",
        "b",
        "1.0.0",
        "001",
        "1.0^",
        "1.0^^",
        "0.9",
        "el9",
        "el9_2",
        "1.el9",
        "1.el9_2.1",
        "2.6.32",
        "2.6.32.1",
        "1.0~",
        "A",
        "Z1",
        "+1",
    ]
    pairs = [(a, b) for a in versions for b in versions]
    calls = ", ".join(f'rpm.vercmp("{a}", "{b}")' for a, b in pairs)
    said = run(["rpm", "--eval", f'%{{lua: print(table.concat({{{calls}}}, " "))}}']).split()
    assert len(said) == len(pairs)
    assert [vercmp(a, b) for a, b in pairs] == [int(n) for n in said]


def test_last_install_from_dpkg_log_written_under_faketime(faulty: Faulty) -> None:
    activity = collect_package_activity(_host(faulty[0]))
    assert activity.manager == "apt"
    assert activity.last_install_at is not None
    age = datetime.now(UTC) - activity.last_install_at
    assert timedelta(days=199) < age < timedelta(days=201)
    assert activity.last_install_package in {
        "openssh-server",
        "cups-daemon",
        "sl",
        "x11vnc",
        "transmission-daemon",
    }
    assert activity.lists_refreshed_at is not None
    assert datetime.now(UTC) - activity.lists_refreshed_at > timedelta(days=59)


def test_apt_history_and_rotated_gzip_logs(tmp_path: Path) -> None:
    tree = HostTree(tmp_path)
    tree.write("/var/lib/dpkg/status", "")
    tree.write(
        "/var/log/apt/history.log",
        "\nStart-Date: 2026-10-01  09:00:01\nCommandline: apt-get update\nEnd-Date: "
        "2026-10-01  09:00:05\n",
    )
    older = (
        "\nStart-Date: 2026-09-12  10:41:07\nCommandline: apt-get install -y nmap\n"
        "Requested-By: alice (1000)\nInstall: nmap:amd64 (7.93+dfsg1-1), "
        "libpcap0.8:amd64 (1.10.3-1, automatic)\nEnd-Date: 2026-09-12  10:41:12\n"
        "\nStart-Date: 2026-09-20  08:00:00\nCommandline: apt-get upgrade\n"
        "Upgrade: openssl:amd64 (3.0.15-1~deb12u1, 3.0.17-1~deb12u2)\n"
        "End-Date: 2026-09-20  08:00:09\n"
    )
    tree.path("/var/log/apt/history.log.2.gz").write_bytes(gzip.compress(older.encode()))
    activity = collect_package_activity(_host(tree))
    assert activity.last_install_package == "openssl"
    assert activity.last_install_at == datetime(2026, 9, 20, 8, 0, 0).astimezone()
    assert "/var/log/apt/history.log.2.gz" in activity.sources
    assert activity.lists_refreshed_at is None
    assert newest_apt_history_install("Start-Date: 2026-09-20  08:00:00\n") is None


def test_dnf_history_and_cache(tmp_path: Path) -> None:
    # dnf 4 keeps its transactions in SQLite (libdnf's swdb); the trans table's dt_end is
    # when each finished. No dnf on Debian, so the table is made with libdnf's columns.
    tree = HostTree(tmp_path)
    tree.path("/var/lib/dnf").mkdir(parents=True)
    with sqlite3.connect(tree.path("/var/lib/dnf/history.sqlite")) as db:
        db.execute(
            "CREATE TABLE trans (id INTEGER PRIMARY KEY, dt_begin INTEGER NOT NULL, "
            "dt_end INTEGER, rpmdb_version_begin TEXT, rpmdb_version_end TEXT, "
            "releasever TEXT NOT NULL, user_id INTEGER NOT NULL, cmdline TEXT, state INTEGER)"
        )
        db.execute(
            "INSERT INTO trans VALUES (1, 1760000000, 1760000090, '', '', '9', 0, "
            "'install nginx', 1)"
        )
        db.execute(
            "INSERT INTO trans VALUES (2, 1762000000, 1762000030, '', '', '9', 0, 'upgrade', 1)"
        )
    db.close()
    refreshed = datetime.now(UTC) - timedelta(days=2)
    tree.touch("/var/cache/dnf/baseos-1234/repodata/repomd.xml", refreshed)
    activity = collect_package_activity(_host(tree))
    assert activity.manager == "dnf"
    assert activity.last_install_at == datetime.fromtimestamp(1762000030, UTC)
    assert activity.lists_refreshed_at is not None
    assert abs(activity.lists_refreshed_at - refreshed) < timedelta(seconds=2)


def test_kernels_running_and_installed(faulty: Faulty) -> None:
    kernels = collect_kernels(_host(faulty[0]))
    assert kernels.running == "6.1.0-9-amd64"
    assert kernels.installed == ("6.1.0-9-amd64", "6.1.0-28-amd64")


def test_clamav_header_and_scan_log(clean: HostTree) -> None:
    antivirus = collect_antivirus(_host(clean))
    assert [p.name for p in antivirus.products] == ["ClamAV"]
    assert set(antivirus.products[0].found_at) == {
        "/usr/bin/clamscan",
        "/usr/bin/freshclam",
        "/usr/sbin/clamd",
    }
    daily = next(db for db in antivirus.signatures if db.name == "daily")
    assert daily.version == 27100 and daily.path == "/var/lib/clamav/daily.cld"
    assert daily.built_at is not None
    assert timedelta(hours=19) < datetime.now(UTC) - daily.built_at < timedelta(hours=21)
    log = collect_scan_log(_host(clean), "/var/log/clamav/clamscan.log")
    assert log.exists and len(log.scans_ended) == 1
    missing = collect_scan_log(_host(clean), "/var/log/nothing.log")
    assert (missing.exists, missing.scans_ended) == (False, ())


def test_cvd_header_without_unix_time_and_not_a_header() -> None:
    built = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)
    header = cvd_header("daily", 27099, built)
    assert parse_cvd_header(header) == (27099, built)
    text_only = b"ClamAV-VDB:20 Nov 2026 09-15 +0000:27099:2071000:90:abc:X:freshclam".ljust(512)
    assert parse_cvd_header(text_only) == (27099, built)
    assert parse_cvd_header(b"\x1f\x8b gzip data".ljust(512)) == (None, None)


def test_scan_log_keeps_every_summary_and_a_running_scan() -> None:
    first = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    text = clamscan_summary(first) + clamscan_summary(first + timedelta(days=7))
    ended = parse_scan_log(text)
    assert [e - first for e in ended] == [timedelta(minutes=42), timedelta(days=7, minutes=42)]
    running = parse_scan_log("Start Date: 2026:11:20 01:00:00\n")
    assert running == (datetime(2026, 11, 20, 1, 0).astimezone(),)


def test_logins_from_utmpdump_and_lastlog_match_last(clean: HostTree) -> None:
    logins = collect_last_logins(_host(clean))
    assert logins.sources == ("/var/log/wtmp", "/var/log/lastlog")
    assert set(logins.by_account) == {"alice", "bob"}
    # util-linux's last reads the same wtmp file and must see the same login.
    output = run(["last", "-F", "-f", str(clean.path("/var/log/wtmp"))])
    assert output.splitlines()[0].split()[0] == "alice"
    assert datetime.now(UTC) - logins.by_account["alice"] > timedelta(days=1)
    assert datetime.now(UTC) - logins.by_account["bob"] < timedelta(hours=1)


def test_lastlog2_database(tmp_path: Path) -> None:
    # util-linux 2.40's lastlog2 (Debian 13) keeps one SQLite table; Debian 12 has no writer
    # for it, so the table is made with its documented schema.
    tree = HostTree(tmp_path)
    tree.path("/var/lib/lastlog").mkdir(parents=True)
    with sqlite3.connect(tree.path("/var/lib/lastlog/lastlog2.db")) as db:
        db.execute(
            "CREATE TABLE Lastlog2(Name TEXT PRIMARY KEY, Time INTEGER NOT NULL, "
            "TTY TEXT, RemoteHost TEXT, Service TEXT)"
        )
        db.execute("INSERT INTO Lastlog2 VALUES ('teacher', 1763800000, 'pts/0', '', 'sshd')")
    db.close()
    logins = collect_last_logins(_host(tree))
    assert logins.sources == ("/var/lib/lastlog/lastlog2.db",)
    assert logins.by_account == {"teacher": datetime.fromtimestamp(1763800000, UTC)}
    assert collect_last_logins(HostContext.tree(tmp_path / "none")).sources == ()


def test_weak_passwords_verified_by_libcrypt(faulty: Faulty) -> None:
    weak = collect_weak_passwords(_host(faulty[0]))
    assert {(m.account, m.kind) for m in weak.matches} == {
        ("pi", "vendor default"),
        ("eve", "same as the account name"),
    }
    assert set(weak.accounts_tested) == {"bob", "carol", "pi", "eve"}
    assert weak.unsupported == ()
    assert "raspberry" not in repr(weak) and "$y$" not in repr(weak)


@pytest.mark.parametrize("method", ["yescrypt", "sha-512", "sha-256", "md5crypt", "bcrypt"])
def test_crypt_library_verifies_each_scheme_mkpasswd_makes(method: str) -> None:
    hashed = run(["mkpasswd", "-m", method, "--stdin"], "Admin@123", secret_input=True).strip()
    library = crypt_library()
    assert library.verify("Admin@123", hashed) is True
    assert library.verify("admin@123", hashed) is False


def test_organisation_words_find_passwords_built_from_them() -> None:
    # A school's account whose password is its name and the year, hashed by the real mkpasswd.
    hashed = run(["mkpasswd", "-m", "yescrypt", "--stdin"], "Yizhong@2025", secret_input=True)
    shadow = f"teacher:{hashed.strip()}:20000:0:99999:7:::\n"
    words = organisation_candidates(["yizhong", "YZ"], 2026)
    assert {"yizhong2024", "Yizhong@2025", "yizhong@123", "YZ123", "yz2027"} <= set(words)
    assert len(words) == len(set(words)) <= 2 * 3 * 14
    found = find_weak_passwords(shadow, crypt_library(), words)
    assert [(m.account, m.kind) for m in found.matches] == [("teacher", "organisation word")]
    assert find_weak_passwords(shadow, crypt_library()).matches == ()
    assert organisation_key([" yizhong ", "YZ", "yizhong", ""]) == "yizhong\nYZ"


def test_crypt_library_says_when_it_cannot_compute_a_scheme() -> None:
    assert crypt_library().verify("x", "$99$unknownscheme$abc") is None
    names = [phrase for phrase, _kind in candidates_for("teacher")]
    assert "teacher123" in names and len(names) == len(set(names))


def test_crypt_library_needs_no_crypt_module() -> None:
    # Python 3.13 removed `crypt`; loading the collector must not import it.
    script = (
        "import sys\nsys.modules['crypt'] = None\n"
        "from checks.collectors.linux.weak_passwords import crypt_library\n"
        "print(crypt_library().verify('123456', '$6$salt$' + 'x' * 86))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "False"


def test_listening_programs_and_their_packages(faulty: Faulty, clean: HostTree) -> None:
    programs = {p.exe: p for p in collect_listening_programs(_host(faulty[0]))}
    assert programs["/usr/sbin/sshd"].package == "openssh-server"
    assert programs["/usr/sbin/sshd"].ports == ("tcp/22",)
    stray = programs["/var/tmp/.x/httpd"]
    assert (stray.package, stray.owner_known, stray.ports) == (None, True, ("tcp/8080",))
    names = {p.name for p in collect_processes(_host(clean))}
    assert {"clamd", "freshclam", "sshd", "cupsd"} <= names


def test_live_listening_program_is_this_process() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        programs = collect_listening_programs(HostContext.live())
    mine = [p for p in programs if f"tcp/{port}" in p.ports]
    assert len(mine) == 1
    assert mine[0].exe == str(Path(sys.executable).resolve())


def test_firewall_configuration_in_trees(clean: HostTree, faulty: Faulty, tmp_path: Path) -> None:
    good = collect_firewall(_host(clean))
    assert (good.backends, good.default_inbound, good.source) == (
        ("nftables",),
        "drop",
        "configuration",
    )
    bad = collect_firewall(_host(faulty[0]))
    assert (bad.backends, bad.default_inbound) == (("nftables",), "accept")
    assert collect_firewall(HostContext.tree(tmp_path)).default_inbound is None


def test_ufw_firewalld_and_iptables_files(tmp_path: Path) -> None:
    tree = HostTree(tmp_path)
    tree.write("/etc/ufw/ufw.conf", "# /etc/ufw/ufw.conf\nENABLED=yes\nLOGLEVEL=low\n")
    tree.write("/etc/default/ufw", 'IPV6=yes\nDEFAULT_INPUT_POLICY="DROP"\n')
    firewall = collect_firewall(_host(tree))
    assert (firewall.backends, firewall.default_inbound) == (("ufw",), "drop")
    tree.write("/etc/default/ufw", 'DEFAULT_INPUT_POLICY="ACCEPT"\n')
    assert collect_firewall(_host(tree)).default_inbound == "accept"
    tree.write("/etc/ufw/ufw.conf", "ENABLED=no\n")
    assert collect_firewall(_host(tree)).backends == ()
    link = tree.path("/etc/systemd/system/multi-user.target.wants/firewalld.service")
    link.parent.mkdir(parents=True)
    link.symlink_to("/usr/lib/systemd/system/firewalld.service")
    tree.write("/etc/firewalld/firewalld.conf", "DefaultZone=trusted\n")
    tree.write(
        "/usr/lib/firewalld/zones/trusted.xml",
        '<?xml version="1.0" encoding="utf-8"?>\n<zone target="ACCEPT">\n'
        "  <short>Trusted</short>\n</zone>\n",
    )
    assert collect_firewall(_host(tree)).default_inbound == "accept"
    tree.write("/etc/firewalld/firewalld.conf", "DefaultZone=public\n")
    tree.write(
        "/usr/lib/firewalld/zones/public.xml",
        '<?xml version="1.0" encoding="utf-8"?>\n<zone>\n  <short>Public</short>\n'
        '  <service name="ssh"/>\n</zone>\n',
    )
    assert collect_firewall(_host(tree)).default_inbound == "reject"
    saved = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n"
    assert inbound_from_iptables_save(saved) == "accept"
    assert (
        inbound_from_iptables_save(
            saved + "-A INPUT -j REJECT --reject-with icmp-host-prohibited\nCOMMIT\n"
        )
        == "reject"
    )
    assert inbound_from_nft_text(NFTABLES_DEFAULT_DENY) == "drop"
    assert inbound_from_nft_text(Path("/etc/nftables.conf").read_text()) == "accept"


_LIVE_FIREWALL = r"""
import json, subprocess, sys
from checks.collectors.linux.firewall import collect_firewall
from checks.host import HostContext
from checks.runner import CommandRunner
for step in sys.argv[1:]:
    subprocess.run(step.split("\t"), check=True)
f = collect_firewall(HostContext.live())
print(json.dumps([f.default_inbound, list(f.backends), f.source]))
"""


def _live_firewall(*steps: list[str]) -> list[object]:
    """The collector run live in a network namespace of its own, after the given commands, so
    this machine's own firewall is never touched."""
    argv = [tool("unshare"), "--net", "--", sys.executable, "-c", _LIVE_FIREWALL]
    argv += ["\t".join(step) for step in steps]
    completed = subprocess.run(argv, capture_output=True, text=True, cwd=REPO, check=False)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_live_nft_ruleset_in_a_namespace(tmp_path: Path) -> None:
    assert _live_firewall() == [None, [], "kernel"]
    rules = tmp_path / "deny.nft"
    rules.write_text(NFTABLES_DEFAULT_DENY)
    assert _live_firewall([tool("nft"), "-f", str(rules)]) == ["drop", ["nftables"], "kernel"]
    rules.write_text(Path("/etc/nftables.conf").read_text())
    assert _live_firewall([tool("nft"), "-f", str(rules)]) == ["accept", ["nftables"], "kernel"]


def test_live_iptables_policy_seen_through_nft() -> None:
    iptables = tool("iptables")
    steps = [iptables, "-P", "INPUT", "DROP"]
    assert _live_firewall(steps) == ["drop", ["nftables"], "kernel"]
    final_reject = [iptables, "-A", "INPUT", "-j", "REJECT"]
    assert _live_firewall(final_reject) == ["reject", ["nftables"], "kernel"]


def test_live_iptables_legacy_rules_outside_nftables() -> None:
    steps = [tool("iptables-legacy"), "-P", "INPUT", "DROP"]
    assert _live_firewall(steps) == ["drop", ["iptables-legacy"], "kernel"]


def test_backup_location_newest_file(clean: HostTree, tmp_path: Path) -> None:
    found = collect_backup_location(_host(clean), "/srv/backup")
    assert found.exists and found.newest_file == "/srv/backup/nightly.tar.gz"
    assert found.newest_at is not None
    assert timedelta(hours=9) < datetime.now(UTC) - found.newest_at < timedelta(hours=11)
    missing = collect_backup_location(_host(clean), "/srv/none")
    assert (missing.exists, missing.files_seen) == (False, 0)
    empty = HostTree(tmp_path)
    empty.path("/srv/backup").mkdir(parents=True)
    assert collect_backup_location(_host(empty), "/srv/backup").newest_at is None
    with pytest.raises(NotApplicable, match="absolute"):
        collect_backup_location(_host(empty), "backup")


def test_dnf_output_is_read() -> None:
    check_update = (
        "\nopenssl.x86_64    1:3.0.7-27.el9_4    baseos\n"
        "vim-enhanced.x86_64   2:8.2.2637-21.el9   appstream\n"
    )
    security = "RLSA-2024:5000 Important/Sec. openssl-1:3.0.7-27.el9_4.x86_64\n"
    updates = parse_dnf_updates(check_update, security)
    assert [(u.package, u.is_security) for u in updates] == [
        ("openssl", True),
        ("vim-enhanced", False),
    ]


def test_yescrypt_tree_user_is_tested_not_skipped(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "yes")
    tree.useradd("teacher")
    tree.set_known_password("teacher", "teacher@123", "yescrypt")
    weak = collect_weak_passwords(_host(tree))
    assert [(m.account, m.kind) for m in weak.matches] == [("teacher", "same as the account name")]


def test_live_host_without_any_firewall_tool(tmp_path: Path) -> None:
    # PATH holds neither nft nor iptables-save: the state of a host with no firewall tool at
    # all, which must read as "nothing filters" (a fail), not as "cannot tell".
    script = _LIVE_FIREWALL + "print(json.dumps(f.details))\n"
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": str(tmp_path)},
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    verdict, details = completed.stdout.splitlines()
    assert json.loads(verdict) == [None, [], "kernel"]
    assert json.loads(details) == {"tools": "neither nft nor iptables"}


class _CountingLibrary:
    """The real libcrypt, counting how many candidates were hashed."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, phrase: str, stored: str) -> bool | None:
        self.calls += 1
        return crypt_library().verify(phrase, stored)


def test_verdicts_are_remembered_by_digest_until_the_hash_changes(tmp_path: Path) -> None:
    hashed = run(["mkpasswd", "-m", "yescrypt", "--stdin"], "Tr0ub4dor&3", secret_input=True)
    weak = run(["mkpasswd", "-m", "yescrypt", "--stdin"], "teacher123", secret_input=True)
    shadow = f"alice:{hashed.strip()}:20000::::::\nteacher:{weak.strip()}:20000::::::\n"
    library = _CountingLibrary()
    first = find_weak_passwords(shadow, library, (), VerdictCache(tmp_path))  # type: ignore[arg-type]
    # teacher stops at its second candidate (teacher123); alice is tried against every one.
    assert library.calls == 2 + len(candidates_for("alice"))
    assert [(m.account, m.kind) for m in first.matches] == [("teacher", "same as the account name")]
    stored = (tmp_path / VerdictCache.FILE_NAME).read_text()
    assert "$y$" not in stored and "teacher123" not in stored and hashed.strip()[-20:] not in stored
    assert (tmp_path / VerdictCache.FILE_NAME).stat().st_mode & 0o077 == 0
    again = _CountingLibrary()
    second = find_weak_passwords(shadow, again, (), VerdictCache(tmp_path))  # type: ignore[arg-type]
    assert (again.calls, second.matches, second.accounts_tested) == (
        0,
        first.matches,
        first.accounts_tested,
    )
    # A new hash (the password was changed) is tested again; the old entry is dropped.
    changed = run(["mkpasswd", "-m", "yescrypt", "--stdin"], "teacher", secret_input=True)
    shadow = shadow.replace(weak.strip(), changed.strip())
    third = find_weak_passwords(shadow, again, (), VerdictCache(tmp_path))  # type: ignore[arg-type]
    assert again.calls == 1 and [m.account for m in third.matches] == ["teacher"]
    assert len(json.loads((tmp_path / VerdictCache.FILE_NAME).read_text())) == 2


def test_agent_spreads_slow_candidates_over_its_scans(tmp_path: Path) -> None:
    strong = [
        run(["mkpasswd", "-m", "yescrypt", "--stdin"], f"Str0ng&{n}x", secret_input=True).strip()
        for n in range(3)
    ]
    # abc123 is an account's 18th candidate: beyond the first scan's share of each account.
    late = run(["mkpasswd", "-m", "yescrypt", "--stdin"], "abc123", secret_input=True).strip()
    fast = run(["openssl", "passwd", "-6", "Str0ng&fast"]).strip()
    shadow = "".join(f"s{n}:{h}:20000::::::\n" for n, h in enumerate(strong))
    shadow += f"late:{late}:20000::::::\nfast:{fast}:20000::::::\n"
    total = len(candidates_for("late"))
    library = _CountingLibrary()
    first = find_weak_passwords(shadow, library, (), VerdictCache(tmp_path), slow_budget=40)  # type: ignore[arg-type]
    # 40 slow tries, ten for each yescrypt account by rank; the sha512 account in full.
    assert library.calls == 40 + total
    assert dict(first.incomplete) == {"s0": 10, "s1": 10, "s2": 10, "late": 10}
    assert not first.matches
    scans = 1
    result = first
    while result.incomplete:
        result = find_weak_passwords(shadow, library, (), VerdictCache(tmp_path), slow_budget=40)  # type: ignore[arg-type]
        scans += 1
        if scans == 2:
            # The second scan goes on where the first stopped, and finds abc123.
            assert [(m.account, m.kind) for m in result.matches] == [("late", "common weak")]
    assert [m.account for m in result.matches] == ["late"]
    # Every strong account was tried against every candidate, each exactly once.
    assert library.calls == total + 3 * total + 18
    # A scan without a state folder to continue from tries everything at once.
    whole = _CountingLibrary()
    assert find_weak_passwords(shadow, whole, ()).incomplete == ()  # type: ignore[arg-type]


def test_hashes_left_in_passwd_by_pwunconv_are_tested(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "unconv")
    tree.useradd("teacher")
    tree.set_known_password("teacher", "teacher@123", "yescrypt")
    run(["pwunconv", "--root", str(tree.root)])
    assert not tree.path("/etc/shadow").exists()
    weak = collect_weak_passwords(_host(tree))
    assert [(m.account, m.kind) for m in weak.matches] == [("teacher", "same as the account name")]


def test_authorized_key_fingerprints_are_those_ssh_keygen_prints(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "keys")
    tree.useradd("teacher")
    lines = []
    for name in ("old-admin", "new-admin"):
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(tmp_path / name)])
        lines.append((tmp_path / f"{name}.pub").read_text().strip())
    printed = [
        run(["ssh-keygen", "-l", "-f", str(tmp_path / f"{n}.pub")]).split()[1]
        for n in ("old-admin", "new-admin")
    ]
    tree.write("/root/.ssh/authorized_keys", f'from="10.0.0.0/8" {lines[0]}\n# spare\n{lines[1]}\n')
    keys = collect_authorized_keys(_host(tree))
    assert [(k.account, k.fingerprint, k.comment) for k in keys] == [
        ("root", printed[0], "old-admin"),
        ("root", printed[1], "new-admin"),
    ]
    assert lines[0].split()[1] not in repr(keys)


def test_sudoers_rules_with_includes_aliases_and_tags(tmp_path: Path) -> None:
    tree = HostTree(tmp_path / "sudo")
    tree.write(
        "/etc/sudoers",
        "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n"
        "@includedir /etc/sudoers.d\n",
    )
    tree.write("/etc/sudoers.d/lab", "lab,ops ALL=(ALL) NOPASSWD: ALL\n")
    tree.write("/etc/sudoers.d/web", "www ALL=(root) NOPASSWD: /usr/bin/systemctl reload nginx\n")
    tree.write("/etc/sudoers.d/README.dpkg", "nobody ALL=(ALL) ALL\n")  # names with dots: skipped
    rules = {
        (r.source, r.principal, r.all_commands, r.nopasswd) for r in collect_sudo_rules(_host(tree))
    }
    assert rules == {
        ("/etc/sudoers", "root", True, False),
        ("/etc/sudoers", "%sudo", True, False),
        ("/etc/sudoers.d/lab", "lab", True, True),
        ("/etc/sudoers.d/lab", "ops", True, True),
        ("/etc/sudoers.d/web", "www", False, True),
    }


def test_pam_lockout_and_history_from_stacks_and_their_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/pam.d").mkdir(parents=True)
    (root / "etc/security").mkdir()
    host = HostContext.tree(root)
    assert collect_pam_lockout(host).pam_files_read == ()
    (root / "etc/pam.d/common-auth").write_text(PAM_AUTH_STOCK)
    assert collect_pam_lockout(host).module is None
    (root / "etc/pam.d/common-auth").write_text(PAM_AUTH_WITH_FAILLOCK)
    # Set nowhere: pam_faillock's own defaults.
    assert (collect_pam_lockout(host).deny, collect_pam_lockout(host).unlock_time) == (3, 600)
    (root / "etc/security/faillock.conf").write_text("# deny = 9\ndeny = 4\neven_deny_root\n")
    assert collect_pam_lockout(host).deny == 4
    # An argument on the module's line wins over faillock.conf.
    (root / "etc/pam.d/common-auth").write_text(
        PAM_AUTH_WITH_FAILLOCK.replace("preauth", "preauth deny=0", 1)
    )
    assert collect_pam_lockout(host).deny == 0
    (root / "etc/pam.d/common-password").write_text(
        "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n"
    )
    assert (collect_pam_history(host).module, collect_pam_history(host).remember) == (None, 0)
    (root / "etc/pam.d/common-password").write_text(
        "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt remember=7\n"
    )
    assert collect_pam_history(host).remember == 7
    (root / "etc/pam.d/common-password").write_text(
        "-password requisite pam_pwhistory.so use_authtok\n"
    )
    assert collect_pam_history(host).remember == 10
    (root / "etc/security/pwhistory.conf").write_text("remember = 24\n")
    assert collect_pam_history(host).remember == 24


def test_log_setup_from_rsyslog_logrotate_and_journald(clean: HostTree, tmp_path: Path) -> None:
    setup = collect_log_setup(HostContext.tree(clean.root))
    assert setup.syslog_daemons == ("rsyslog",)
    assert setup.syslog_files == (
        "/var/log/syslog",
        "/var/log/auth.log",
        "/var/log/cron.log",
        "/var/log/kern.log",
    )
    rotation = next(r for r in setup.rotations if r.config == "/etc/logrotate.d/rsyslog")
    assert (rotation.period_days, rotation.rotate, rotation.kept_days) == (7.0, 26, 182.0)
    # The other blocks of this host's logrotate.d are read too, with their own periods.
    assert all(r.config.startswith("/etc/logrotate") for r in setup.rotations)

    root = tmp_path / "root"
    (root / "usr/lib/systemd").mkdir(parents=True)
    (root / "usr/lib/systemd/systemd-journald").write_text("")
    host = HostContext.tree(root)
    assert collect_log_setup(host).journald_storage == "auto"
    assert not collect_log_setup(host).journal_on_disk
    (root / "etc/systemd/journald.conf.d").mkdir(parents=True)
    (root / "etc/systemd/journald.conf").write_text(
        "[Journal]\n#Storage=auto\nStorage=volatile\nMaxRetentionSec=1week\n"
    )
    # A drop-in wins over journald.conf.
    (root / "etc/systemd/journald.conf.d/50-keep.conf").write_text(
        "[Journal]\nStorage=persistent\nMaxRetentionSec=6month\n"
    )
    setup = collect_log_setup(host)
    assert setup.journal_on_disk and round(setup.journald_max_retention_days or 0) == 183
    assert parse_timespan("180d 12h") == 180.5 * 86400
    assert parse_timespan("3600") == 3600 and parse_timespan("soon") is None


def test_special_files_walk(faulty: Faulty) -> None:
    tree, _ = faulty
    found = collect_special_files(HostContext.tree(tree.root))
    writable = {f.path: f for f in found.world_writable}
    assert "/usr/local/bin/backup.sh" in writable and "/var/log/lab.log" in writable
    # A sticky folder is shared by design; a link's mode means nothing.
    assert "/tmp" not in writable and not [p for p in writable if p.startswith("/bin/")]
    setid = {f.path: f for f in found.setid}
    assert setid["/usr/local/bin/.helper"].package is None
    assert setid["/usr/local/bin/.helper"].mode == 0o4755
    assert found.packages_known


def test_desktop_settings_agree_with_gsettings(clean: HostTree, faulty: Faulty) -> None:
    """The values read from the schemas and vendor override are gsettings' own answers for
    the same schemas (compiled by glib-compile-schemas, memory backend: no user database);
    the dconf system database is read on top."""
    schemas = clean.path(str(GNOME_SCHEMAS))
    run(["glib-compile-schemas", "--targetdir", str(schemas), str(schemas)])
    env = {"GSETTINGS_SCHEMA_DIR": str(schemas), "GSETTINGS_BACKEND": "memory"}
    settings = collect_desktop_settings(HostContext.tree(clean.root))
    for key in (
        "org.gnome.desktop.screensaver lock-enabled",
        "org.gnome.desktop.screensaver lock-delay",
    ):
        said = subprocess.run(
            [tool("gsettings"), "get", *key.split()],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, **env},
        ).stdout
        assert gvariant_text(said) == settings.values[key], key
    assert settings.values["org.gnome.desktop.session idle-delay"] == "600"
    assert (
        settings.sources["org.gnome.desktop.session idle-delay"] == "/etc/dconf/db/local.d/00-site"
    )
    assert "org.gnome.desktop.session idle-delay" in settings.locked
    assert settings.desktops == ("GNOME",)
    tree, _ = faulty
    stock = collect_desktop_settings(HostContext.tree(tree.root))
    assert stock.values["org.gnome.desktop.media-handling automount"] == "true"
    assert not stock.locked
