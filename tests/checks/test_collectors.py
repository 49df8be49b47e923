"""Collectors read host trees built by the real tools, and a few recorded kernel formats."""

from __future__ import annotations

import re
import socket
import subprocess
from pathlib import Path

import pytest

from checks.collectors.linux.accounts import collect_shadow, collect_users, hash_scheme
from checks.collectors.linux.login_defs import collect_login_defs
from checks.collectors.linux.network import collect_listening_sockets
from checks.collectors.linux.pwquality import collect_pwquality
from checks.collectors.linux.sshd import collect_sshd_config
from checks.collectors.linux.system import (
    collect_os_release,
    collect_pending_updates,
    collect_reboot_required,
    collect_sensitive_files,
    parse_apt_simulation,
)
from checks.errors import CollectError, NotApplicable
from checks.facts import PasswordState
from checks.host import HostContext
from checks.runner import CommandRunner
from tests.checks.hosttree import HostTree, base_tree, openssl_hash, run, tool


def _host(tree: HostTree) -> HostContext:
    return HostContext.tree(tree.root)


def test_users_and_shadow_from_real_tools(faulty: tuple[HostTree, set[tuple[str, str]]]) -> None:
    tree = faulty[0]
    host = _host(tree)
    users = {u.name: u for u in collect_users(host)}
    master = Path("/usr/share/base-passwd/passwd.master").read_text().splitlines()
    assert len(users) == len(master) + 7  # toor, alice, bob, carol, dave, pi, eve
    assert users["toor"].uid == 0
    assert users["dave"].uid == users["carol"].uid
    assert users["alice"].password_state is PasswordState.SHADOWED
    entries = {e.name: e for e in collect_shadow(host)}
    assert entries["alice"].password_state is PasswordState.EMPTY
    assert (entries["bob"].password_state, entries["bob"].hash_scheme) == (
        PasswordState.HASHED,
        "md5",
    )
    assert entries["carol"].hash_scheme == "sha512"
    assert entries["carol"].last_change_days == 10957  # chage -d 2000-01-01
    assert entries["root"].password_state is PasswordState.NO_PASSWORD_LOGIN
    assert entries["dave"].password_state is PasswordState.NO_PASSWORD_LOGIN


def test_locked_account_keeps_its_scheme_but_not_its_hash(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "locked")
    tree.useradd("frank")
    tree.set_password_hash("frank", "-6")
    run(["usermod", "--root", str(tree.root), "-L", "frank"])
    entry = next(e for e in collect_shadow(_host(tree)) if e.name == "frank")
    assert (entry.password_state, entry.hash_scheme) == (PasswordState.LOCKED, "sha512")
    assert not any("$" in str(value) for value in vars(entry).values())


@pytest.mark.parametrize(
    ("flag", "scheme"), [("-1", "md5"), ("-5", "sha256"), ("-6", "sha512"), ("-apr1", "unknown")]
)
def test_hash_scheme_of_openssl_hashes(flag: str, scheme: str) -> None:
    assert hash_scheme(openssl_hash(flag)) == scheme


def test_malformed_passwd_line_is_an_error_not_a_missing_account(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "mangled")
    with tree.path("/etc/passwd").open("a") as handle:
        handle.write("ghost:x:0:0\n")
    with pytest.raises(CollectError, match="line"):
        collect_users(_host(tree))


def test_login_defs_as_debian_ships_it(tmp_path: Path) -> None:
    tree = base_tree(tmp_path / "defs")
    defs = collect_login_defs(_host(tree))
    assert (defs.pass_max_days, defs.uid_min, defs.pass_min_len) == (99999, 1000, None)
    tree.set_login_defs("PASS_MAX_DAYS", "90")
    tree.set_login_defs("PASS_MIN_LEN", "8")
    defs = collect_login_defs(_host(tree))
    assert (defs.pass_max_days, defs.pass_min_len) == (90, 8)


def test_pwquality_reads_drop_ins_then_main_file_then_pam_arguments(tmp_path: Path) -> None:
    tree = HostTree(tmp_path)
    tree.write("/etc/security/pwquality.conf.d/20-late.conf", "minlen = 11\ndcredit = -1\n")
    tree.write("/etc/security/pwquality.conf.d/10-early.conf", "minlen = 10\nucredit = -1\n")
    tree.write("/etc/security/pwquality.conf.d/ignored.txt", "minlen = 30\n")
    tree.write("/etc/security/pwquality.conf", "# minlen = 40\nminclass = 2\n")
    quality = collect_pwquality(_host(tree))
    assert (quality.minlen, quality.minclass, quality.required_classes_by_credit) == (11, 2, 2)
    assert quality.pam_module is None and not quality.pam_files_read
    tree.write("/etc/security/pwquality.conf", "minlen = 9\n")
    assert collect_pwquality(_host(tree)).minlen == 9
    tree.write(
        "/etc/pam.d/common-password",
        "# here are the per-package modules\n"
        "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n"
        "password  requisite  /lib/x86_64-linux-gnu/security/pam_pwquality.so retry=3 minlen=14\n",
    )
    quality = collect_pwquality(_host(tree))
    assert (quality.minlen, quality.pam_module) == (14, "pam_pwquality.so")
    assert quality.sources[-1] == "/etc/pam.d/common-password"


def test_pam_stack_without_quality_module(tmp_path: Path) -> None:
    tree = HostTree(tmp_path)
    tree.write("/etc/pam.d/common-password", Path("/etc/pam.d/common-password").read_text())
    quality = collect_pwquality(_host(tree))
    assert quality.pam_files_read and quality.pam_module is None


def test_listening_sockets_from_kernel_tables(
    clean: HostTree, faulty: tuple[HostTree, set[tuple[str, str]]]
) -> None:
    found = {
        (s.protocol, s.family, s.address, s.port) for s in collect_listening_sockets(_host(clean))
    }
    assert found == {
        ("tcp", "ipv4", "0.0.0.0", 22),
        ("tcp", "ipv6", "::", 22),
        ("tcp", "ipv4", "127.0.0.1", 631),
        ("udp", "ipv4", "0.0.0.0", 68),
    }
    faulty_ports = {(s.protocol, s.port) for s in collect_listening_sockets(_host(faulty[0]))}
    assert faulty_ports == {("tcp", 22), ("tcp", 23), ("tcp", 8080), ("udp", 67)}


def test_no_proc_tables_is_not_applicable(tmp_path: Path) -> None:
    with pytest.raises(NotApplicable, match="/proc/net/tcp"):
        collect_listening_sockets(HostContext.tree(tmp_path))


def test_live_listening_socket_is_seen_like_ss_sees_it() -> None:
    # ss asks the kernel over netlink; /proc/net is the other door to the same tables.
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        output = subprocess.run(
            [tool("ss"), "-Hltn"], capture_output=True, text=True, check=True
        ).stdout
        ours = [s for s in collect_listening_sockets(HostContext.live()) if s.port == port]
    ss_ports = {int(re.split(r"[:\]]", line.split()[3])[-1]) for line in output.splitlines()}
    assert port in ss_ports
    assert [(s.protocol, s.address, s.is_loopback) for s in ours] == [("tcp", "0.0.0.0", False)]


def test_sshd_config_follows_include_and_stops_at_match(tmp_path: Path) -> None:
    tree = HostTree(tmp_path)
    with pytest.raises(NotApplicable, match="OpenSSH"):
        collect_sshd_config(_host(tree))
    tree.write(
        "/etc/ssh/sshd_config",
        "Include sshd_config.d/*.conf\nPermitRootLogin no\nPasswordAuthentication=no\n"
        "Match User backup\n  PermitEmptyPasswords yes\n",
    )
    tree.write("/etc/ssh/sshd_config.d/10-a.conf", "permitrootlogin yes\n")
    tree.write("/etc/ssh/sshd_config.d/20-b.conf", "PermitRootLogin without-password\n")
    config = collect_sshd_config(_host(tree))
    assert config.get("PermitRootLogin", "") == "yes"
    assert config.get("PasswordAuthentication", "") == "no"
    assert "permitemptypasswords" not in config.settings
    assert config.files_read == (
        "/etc/ssh/sshd_config",
        "/etc/ssh/sshd_config.d/10-a.conf",
        "/etc/ssh/sshd_config.d/20-b.conf",
    )


def test_os_release_and_reboot_flag(
    faulty: tuple[HostTree, set[tuple[str, str]]], tmp_path: Path
) -> None:
    host = _host(faulty[0])
    release = collect_os_release(host)
    assert release.id == "debian" and release.is_debian_family
    flag = collect_reboot_required(host)
    assert flag.required and flag.packages == ("linux-image-amd64",)
    assert not collect_reboot_required(HostContext.tree(tmp_path)).required
    with pytest.raises(NotApplicable):
        collect_os_release(HostContext.tree(tmp_path))


def test_sensitive_files_name_owners_from_the_tree(clean: HostTree) -> None:
    stats = {s.path: s for s in collect_sensitive_files(_host(clean))}
    shadow = stats["/etc/shadow"]
    assert (shadow.owner, shadow.group, shadow.mode) == ("root", "shadow", 0o440)
    assert stats["/etc/passwd"].mode == 0o644


def test_pending_updates_match_apt_itself(clean: HostTree) -> None:
    # The tree supplies os-release; the runner runs this host's real apt-get.
    host = HostContext.tree(clean.root, CommandRunner())
    ours = collect_pending_updates(host)
    output = subprocess.run(
        [tool("apt-get"), "-s", "-q", "dist-upgrade"], capture_output=True, text=True, check=True
    ).stdout
    assert [u.package for u in ours] == [
        line.split()[1] for line in output.splitlines() if line.startswith("Inst ")
    ]


def test_apt_simulation_lines() -> None:
    text = (
        "Reading package lists...\n"
        "Inst libssl3 [3.0.15-1~deb12u1] (3.0.17-1~deb12u2 Debian-Security:12/stable-security "
        "[amd64])\n"
        "Inst vim [2:9.0.1378-2] (2:9.0.1378-2+deb12u2 Debian:12.11/stable [amd64]) []\n"
        "Inst newpkg (1.0-1 Debian:12.11/stable [all])\n"
        "Conf libssl3 (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])\n"
    )
    updates = parse_apt_simulation(text)
    assert [(u.package, u.current_version, u.new_version, u.is_security) for u in updates] == [
        ("libssl3", "3.0.15-1~deb12u1", "3.0.17-1~deb12u2", True),
        ("vim", "2:9.0.1378-2", "2:9.0.1378-2+deb12u2", False),
        ("newpkg", None, "1.0-1", False),
    ]
