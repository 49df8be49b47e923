"""Host trees for collector and end-to-end tests, built by the real Debian tools.

Accounts come from base-passwd's master files, converted by pwconv/grpconv and changed with
useradd, passwd, chpasswd and chage, all with --root. Hashes come from `openssl passwd`.
Socket tables are the kernel's own /proc/net files, captured in a fresh network namespace
(unshare -n) while a helper process listens on the planted ports.

Only files no tool writes for a bare folder are written by hand: sshd_config (openssh-server
is not installed here), pwquality.conf and the reboot-required flag, each in the format its
owner documents.

A missing tool fails the test with the Debian package to install; it never skips.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Debian package that ships each tool the trees need.
TOOL_PACKAGES = {
    "useradd": "passwd",
    "usermod": "passwd",
    "passwd": "passwd",
    "chpasswd": "passwd",
    "chage": "passwd",
    "pwconv": "passwd",
    "grpconv": "passwd",
    "openssl": "openssl",
    "unshare": "util-linux",
    "setpriv": "util-linux",
    "ip": "iproute2",
    "ss": "iproute2",
    "apt-get": "apt",
    "sleep": "coreutils",
    "echo": "coreutils",
    "ls": "coreutils",
    "head": "coreutils",
    "true": "coreutils",
}
BASE_PASSWD_DIR = Path("/usr/share/base-passwd")
SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
)


def tool(name: str) -> str:
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        package = TOOL_PACKAGES.get(name, name)
        pytest.fail(
            f"{name} is missing: install the Debian package {package} "
            f"(apt-get install -y {package})"
        )
    return found


def data_file(path: Path, package: str) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: install the Debian package {package}")
    return path


def run(argv: Sequence[str], stdin: str | None = None, secret_input: bool = False) -> str:
    """Run a tool; on failure, fail the test with its stderr (never with secret input)."""
    completed = subprocess.run(
        [tool(argv[0]), *argv[1:]],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        shown = "<secret input withheld>" if secret_input else (stdin or "")
        pytest.fail(
            f"{' '.join(argv)} exited {completed.returncode}: {completed.stderr.strip()} "
            f"(input: {shown[:200]})"
        )
    return completed.stdout


def random_password() -> str:
    return secrets.token_urlsafe(12) + "!7aZ"


def openssl_hash(scheme_flag: str) -> str:
    """A hash of a fresh random password; `scheme_flag` is -1 (MD5), -5 (SHA-256), -6 (SHA-512)."""
    return run(["openssl", "passwd", scheme_flag, "-stdin"], random_password(), True).strip()


@dataclass
class HostTree:
    root: Path
    users: dict[str, int] = field(default_factory=dict)

    def path(self, host_path: str) -> Path:
        return self.root / host_path.lstrip("/")

    def write(self, host_path: str, text: str, mode: int = 0o644) -> None:
        target = self.path(host_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        target.chmod(mode)

    def useradd(self, name: str, *extra: str) -> None:
        run(["useradd", "--root", str(self.root), "-s", "/bin/bash", *extra, name])
        self.users[name] = self.uid_of(name)

    def uid_of(self, name: str) -> int:
        for line in self.path("/etc/passwd").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return int(fields[2])
        raise AssertionError(f"{name} is not in {self.root}/etc/passwd")

    def gid_of_group(self, name: str) -> int:
        for line in self.path("/etc/group").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return int(fields[2])
        raise AssertionError(f"group {name} is not in {self.root}/etc/group")

    def set_password_hash(self, name: str, scheme_flag: str) -> None:
        line = f"{name}:{openssl_hash(scheme_flag)}\n"
        run(["chpasswd", "--root", str(self.root), "-e"], line, secret_input=True)

    def delete_password(self, name: str) -> None:
        run(["passwd", "--root", str(self.root), "-d", name])

    def set_last_change(self, name: str, date: str) -> None:
        run(["chage", "--root", str(self.root), "-d", date, name])

    def set_login_defs(self, key: str, value: str) -> None:
        path = self.path("/etc/login.defs")
        text = path.read_text()
        line = f"{key}\t{value}"
        pattern = re.compile(rf"^{key}\s.*$", re.MULTILINE)
        text = pattern.sub(line, text, count=1) if pattern.search(text) else text + line + "\n"
        path.write_text(text)

    def capture_sockets(
        self, tcp: Sequence[tuple[str, int]], udp: Sequence[tuple[str, int]]
    ) -> None:
        """The kernel's /proc/net tables while sockets listen on these (address, port) pairs,
        in a network namespace of their own so the host's listeners stay out."""
        target = self.path("/proc/net")
        target.mkdir(parents=True, exist_ok=True)
        request = json.dumps(
            {"tcp": list(tcp), "udp": list(udp), "target": str(target), "ip": tool("ip")}
        )
        run(["unshare", "--net", "--", sys.executable, "-c", _LISTEN_AND_CAPTURE, request])


_LISTEN_AND_CAPTURE = r"""
import json, shutil, socket, subprocess, sys
request = json.loads(sys.argv[1])
subprocess.run([request["ip"], "link", "set", "lo", "up"], check=True)
held = []
for kind, pairs in (("tcp", request["tcp"]), ("udp", request["udp"])):
    for address, port in pairs:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock_type = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(family, sock_type)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((address, port))
        if kind == "tcp":
            sock.listen()
        held.append(sock)
for name in ("tcp", "tcp6", "udp", "udp6"):
    shutil.copyfile(f"/proc/self/net/{name}", f"{request['target']}/{name}")
"""


def base_tree(root: Path) -> HostTree:
    """A Debian system's accounts and settings as a fresh install has them."""
    tree = HostTree(root)
    tree.path("/etc").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        data_file(BASE_PASSWD_DIR / "passwd.master", "base-passwd"), tree.path("/etc/passwd")
    )
    shutil.copyfile(
        data_file(BASE_PASSWD_DIR / "group.master", "base-passwd"), tree.path("/etc/group")
    )
    run(["pwconv", "--root", str(root)])
    run(["grpconv", "--root", str(root)])
    shutil.copyfile(data_file(Path("/etc/login.defs"), "login"), tree.path("/etc/login.defs"))
    shutil.copyfile(data_file(Path("/etc/os-release"), "base-files"), tree.path("/etc/os-release"))
    tree.write("/etc/hostname", "pc-101\n")
    return tree


SSHD_HEADER = "Include /etc/ssh/sshd_config.d/*.conf\n"
PAM_PASSWORD_WITH_PWQUALITY = (
    # What pam-auth-update writes into common-password once libpam-pwquality is installed.
    "password\trequisite\t\t\tpam_pwquality.so retry=3\n"
    "password\t[success=1 default=ignore]\tpam_unix.so obscure use_authtok try_first_pass "
    "yescrypt\n"
    "password\trequisite\t\t\tpam_deny.so\n"
    "password\trequired\t\t\tpam_permit.so\n"
)


def clean_tree(root: Path) -> HostTree:
    """The twin that follows the policy: every check passes or does not apply."""
    tree = base_tree(root)
    tree.useradd("alice")
    tree.set_password_hash("alice", "-6")
    tree.useradd("bob")
    tree.set_password_hash("bob", "-5")
    tree.set_login_defs("PASS_MAX_DAYS", "90")
    tree.set_login_defs("PASS_MIN_LEN", "8")
    tree.write("/etc/security/pwquality.conf", "minlen = 10\nminclass = 3\n")
    tree.write("/etc/pam.d/common-password", PAM_PASSWORD_WITH_PWQUALITY)
    tree.capture_sockets(
        tcp=[("0.0.0.0", 22), ("::", 22), ("127.0.0.1", 631)], udp=[("0.0.0.0", 68)]
    )
    tree.write(
        "/etc/ssh/sshd_config",
        SSHD_HEADER + "PermitRootLogin prohibit-password\nPasswordAuthentication yes\n",
    )
    tree.write("/etc/ssh/sshd_config.d/50-site.conf", "X11Forwarding no\n")
    return tree


# Each planted fault and the (check id, resource) that must report it as fail.
def faulty_tree(root: Path) -> tuple[HostTree, set[tuple[str, str]]]:
    tree = base_tree(root)
    tree.useradd("toor", "-o", "-u", "0", "-g", "0")
    tree.useradd("alice")
    tree.delete_password("alice")
    tree.useradd("bob")
    tree.set_password_hash("bob", "-1")
    tree.useradd("carol")
    tree.set_password_hash("carol", "-6")
    tree.set_last_change("carol", "2000-01-01")
    tree.useradd("dave", "-o", "-u", str(tree.users["carol"]))
    # login.defs stays Debian's default: PASS_MAX_DAYS 99999 and no PASS_MIN_LEN.
    tree.write("/etc/security/pwquality.conf", "minlen = 6\nminclass = 1\n")
    tree.write("/etc/pam.d/common-password", PAM_PASSWORD_WITH_PWQUALITY)
    tree.capture_sockets(
        tcp=[("0.0.0.0", 22), ("0.0.0.0", 23), ("::", 8080)], udp=[("0.0.0.0", 67)]
    )
    tree.write("/etc/ssh/sshd_config", SSHD_HEADER + "PermitRootLogin prohibit-password\n")
    # An included file read first wins over the main file, as in sshd.
    tree.write(
        "/etc/ssh/sshd_config.d/50-installer.conf",
        "PermitRootLogin yes\nPermitEmptyPasswords yes\n",
    )
    tree.write("/var/run/reboot-required", "*** System restart required ***\n")
    tree.write("/var/run/reboot-required.pkgs", "linux-image-amd64\n")
    tree.path("/etc/shadow").chmod(0o644)
    expected = {
        ("accounts.uid0_extra", "user:toor"),
        ("accounts.empty_password", "user:alice"),
        ("accounts.weak_password_hash", "user:bob"),
        ("accounts.password_age", "user:carol"),
        ("accounts.duplicate_uid", f"uid:{tree.users['carol']}"),
        ("password.policy", "policy:min_length"),
        ("password.policy", "policy:complexity"),
        ("password.policy", "policy:max_age"),
        ("services.listening", "port:tcp/23"),
        ("services.listening", "port:tcp/8080"),
        ("network.dhcp_server", "port:udp/67"),
        ("patch.reboot_required", "host"),
        ("ssh.root_login", "service:sshd"),
        ("ssh.empty_passwords", "service:sshd"),
        ("files.account_file_permissions", "file:/etc/shadow"),
    }
    return tree, expected
