"""Host trees for collector and end-to-end tests, built by the real Debian tools.

Accounts come from base-passwd's master files, converted by pwconv/grpconv and changed with
useradd, passwd, chpasswd and chage, all with --root. Hashes come from `openssl passwd`.
Socket tables are the kernel's own /proc/net files, captured in a fresh network namespace
(unshare -n) while a helper process listens on the planted ports.

Packages are real .deb files made by dpkg-deb and installed by dpkg into the tree
(--admindir/--instdir), which writes the real status file, info/*.list and dpkg.log; an old
install is dated by running dpkg under faketime. Logins are written by utmpdump -r (wtmp) and
lastlog -S; weak passwords are hashed by mkpasswd -m yescrypt and openssl passwd -6.

Only files no tool writes for a bare folder are written by hand: sshd_config (openssh-server
is not installed here), pwquality.conf, the reboot-required flag, a ClamAV database header and
scan log, the firewall configuration, and the process table (/proc/PID/comm, exe and fd links
in the form the kernel shows them), each in the format its owner documents.

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
from datetime import UTC, datetime, timedelta
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
    "pwunconv": "passwd",
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
    "touch": "coreutils",
    "dpkg": "dpkg",
    "dpkg-deb": "dpkg",
    "faketime": "faketime",
    "mkpasswd": "whois",
    "utmpdump": "util-linux",
    "last": "util-linux",
    "iptables": "iptables",
    "iptables-legacy": "iptables",
    "rpm": "rpm",
    "rpmbuild": "rpm",
    "lastlog": "login",
    "nft": "nftables",
    "lynis": "lynis",
    "debootstrap": "debootstrap",
    "ssh-keygen": "openssh-client",
    "chroot": "coreutils",
    "createrepo_c": "createrepo-c",
    "modifyrepo_c": "createrepo-c",
    "glib-compile-schemas": "libglib2.0-bin",
    "gsettings": "libglib2.0-bin",
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
        self.set_hash(name, openssl_hash(scheme_flag))

    def set_hash(self, name: str, hashed: str) -> None:
        run(["chpasswd", "--root", str(self.root), "-e"], f"{name}:{hashed}\n", secret_input=True)

    def set_known_password(self, name: str, password: str, method: str) -> None:
        """A chosen (weak) password: "yescrypt" hashes with mkpasswd, "sha512" with openssl."""
        if method == "yescrypt":
            hashed = run(["mkpasswd", "-m", "yescrypt", "--stdin"], password, True).strip()
        else:
            hashed = run(["openssl", "passwd", "-6", "-stdin"], password, True).strip()
        self.set_hash(name, hashed)

    def add_to_group(self, name: str, group: str) -> None:
        run(["usermod", "--root", str(self.root), "-aG", group, name])

    def install_packages(self, debs: Sequence[Path], when: str | None = None) -> None:
        """dpkg -i into the tree; `when` (YYYY-MM-DD HH:MM:SS) dates the install via faketime."""
        admin = self.path("/var/lib/dpkg")
        for sub in ("info", "updates"):
            (admin / sub).mkdir(parents=True, exist_ok=True)
        (admin / "status").touch()
        self.path("/var/log").mkdir(parents=True, exist_ok=True)
        argv = [
            "dpkg",
            f"--admindir={admin}",
            f"--instdir={self.root}",
            f"--log={self.path('/var/log/dpkg.log')}",
            "--force-not-root",
            "-i",
            *map(str, debs),
        ]
        run(["faketime", when, tool("dpkg"), *argv[1:]] if when else argv)

    def write_wtmp(self, logins: Sequence[tuple[str, str, datetime]]) -> None:
        """wtmp records by utmpdump -r from its text form: (account, tty, login time)."""
        lines = [
            f"[7] [{1000 + n:05d}] [ts/{n}] [{user:<8}] [{tty:<12}] [10.0.0.{n + 5:<13}] "
            f"[10.0.0.{n + 5:<12}] [{when.strftime('%Y-%m-%dT%H:%M:%S')},000000+00:00]"
            for n, (user, tty, when) in enumerate(logins)
        ]
        # utmpdump -r writes binary records to stdout, so no text decoding here.
        completed = subprocess.run(
            [tool("utmpdump"), "-r"],
            input=("\n".join(lines) + "\n").encode(),
            capture_output=True,
            check=True,
        )
        target = self.path("/var/log/wtmp")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(completed.stdout)

    def lastlog_now(self, name: str) -> None:
        self.path("/var/log/lastlog").touch()
        run(["lastlog", "--root", str(self.root), "-S", "-u", name])

    def touch(self, host_path: str, when: datetime) -> None:
        target = self.path(host_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        run(["touch", "-d", when.strftime("%Y-%m-%d %H:%M:%S UTC"), str(target)])

    def socket_inode(self, protocol: str, port: int) -> int:
        from checks.collectors.linux.network import parse_proc_net

        for table, family in ((protocol, "ipv4"), (protocol + "6", "ipv6")):
            text = self.path(f"/proc/net/{table}").read_text()
            for sock in parse_proc_net(text, protocol, family):
                if sock.port == port:
                    return sock.inode
        raise AssertionError(f"no {protocol}/{port} socket in the captured tables")

    def add_process(
        self, pid: int, name: str, exe: str, sockets: Sequence[tuple[str, int]] = ()
    ) -> None:
        """/proc/PID as the kernel shows it: comm, status, an exe link, fd links to sockets."""
        folder = self.path(f"/proc/{pid}")
        (folder / "fd").mkdir(parents=True, exist_ok=True)
        (folder / "comm").write_text(name + "\n")
        (folder / "status").write_text(f"Name:\t{name}\nPid:\t{pid}\nUid:\t0\t0\t0\t0\n")
        os.symlink(exe, folder / "exe")
        for number, (protocol, port) in enumerate(sockets, start=3):
            os.symlink(f"socket:[{self.socket_inode(protocol, port)}]", folder / "fd" / str(number))

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


def build_deb(workdir: Path, name: str, section: str, files: dict[str, str]) -> Path:
    """A real .deb made by dpkg-deb: control file plus the given files (path -> content)."""
    folder = workdir / f"{name}-pkg"
    (folder / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (folder / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0-1\nArchitecture: all\nSection: {section}\n"
        "Priority: optional\nMaintainer: xunjian tests <tests@example.org>\n"
        f"Description: {name} stand-in built for the xunjian tests\n"
    )
    for path, content in files.items():
        target = folder / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        target.chmod(0o755)
    deb = workdir / f"{name}.deb"
    run(["dpkg-deb", "--root-owner-group", "-b", str(folder), str(deb)])
    return deb


def debs(workdir: Path, specs: Sequence[tuple[str, str, Sequence[str]]]) -> list[Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    return [
        build_deb(workdir, name, section, {path: "#!/bin/sh\n" for path in paths})
        for name, section, paths in specs
    ]


# A ClamAV database header: 512 bytes, colon-separated, space padded, as freshclam writes it.
def cvd_header(name: str, version: int, built: datetime) -> bytes:
    text = (
        f"ClamAV-VDB:{built.strftime('%d %b %Y %H-%M %z')}:{version}:2071000:90:"
        f"0123456789abcdef0123456789abcdef:X:freshclam:{int(built.timestamp())}"
    )
    return text.encode("ascii").ljust(512, b" ")


# clamscan --log appends this summary after every scan.
def clamscan_summary(started: datetime) -> str:
    ended = started + timedelta(minutes=42)
    return (
        "\n-------------------------------------------------------------------------------\n\n"
        "----------- SCAN SUMMARY -----------\n"
        "Known viruses: 8701234\nEngine version: 1.0.7\nScanned directories: 10234\n"
        "Scanned files: 153012\nInfected files: 0\nData scanned: 10240.51 MB\n"
        "Data read: 8120.32 MB (ratio 1.26:1)\nTime: 2520.004 sec (42 m 0 s)\n"
        f"Start Date: {started.astimezone().strftime('%Y:%m:%d %H:%M:%S')}\n"
        f"End Date:   {ended.astimezone().strftime('%Y:%m:%d %H:%M:%S')}\n"
    )


NFTABLES_DEFAULT_DENY = """#!/usr/sbin/nft -f

flush ruleset

table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\ttcp dport 22 accept
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t}
\tchain output {
\t\ttype filter hook output priority filter;
\t}
}
"""
DEBIAN_10_OS_RELEASE = """PRETTY_NAME="Debian GNU/Linux 10 (buster)"
NAME="Debian GNU/Linux"
VERSION_ID="10"
VERSION="10 (buster)"
VERSION_CODENAME=buster
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
"""
PACKAGES_COMMON = [
    ("openssh-server", "net", ["/usr/sbin/sshd"]),
    ("cups-daemon", "net", ["/usr/sbin/cupsd"]),
]


def build_rpm(
    workdir: Path, name: str, group: str, binary: str, version: str = "1.0", epoch: int = 0
) -> Path:
    """A real .rpm made by rpmbuild from a minimal spec holding one file."""
    (workdir / "SPECS").mkdir(parents=True, exist_ok=True)
    spec = workdir / "SPECS" / f"{name}-{version}.spec"
    spec.write_text(
        (f"Epoch: {epoch}\n" if epoch else "")
        + f"Name: {name}\nVersion: {version}\nRelease: 1\nSummary: stand-in\nLicense: MIT\n"
        f"Group: {group}\nBuildArch: noarch\n%description\nstand-in for the xunjian tests\n"
        f"%install\nmkdir -p %{{buildroot}}{binary.rsplit('/', 1)[0]}\n"
        f"printf '#!/bin/sh\\n' > %{{buildroot}}{binary}\n%files\n{binary}\n"
    )
    run(["rpmbuild", "--define", f"_topdir {workdir}", "-bb", str(spec)])
    return next((workdir / "RPMS" / "noarch").glob(f"{name}-{version}-1.noarch.rpm"))


def rpm_tree(root: Path, rpms: Sequence[Path]) -> HostTree:
    """A Red Hat style package database (/var/lib/rpm) filled by rpm --root."""
    tree = HostTree(root)
    root.mkdir(parents=True, exist_ok=True)
    database = ["--root", str(root), "--dbpath", "/var/lib/rpm"]
    run(["rpm", *database, "--initdb"])
    run(["rpm", *database, "-i", "--nodeps", "--noscripts", *map(str, rpms)])
    return tree


def enable_unit(tree: HostTree, target: str, unit: str) -> None:
    link = tree.path(f"/etc/systemd/system/{target}.wants/{unit}")
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(f"/lib/systemd/system/{unit}", link)


# rsyslog's rules as Debian 12's rsyslog.conf has them.
RSYSLOG_RULES = (
    "*.*;auth,authpriv.none\t\t-/var/log/syslog\n"
    "auth,authpriv.*\t\t\t/var/log/auth.log\n"
    "cron.*\t\t\t\t-/var/log/cron.log\n"
    "kern.*\t\t\t\t-/var/log/kern.log\n"
)


def rsyslog(tree: HostTree, weeks_kept: int) -> None:
    """rsyslog started at boot, its files rotated weekly with weeks_kept old copies, under
    this host's own logrotate.conf."""
    tree.write("/usr/sbin/rsyslogd", "#!/bin/sh\n", 0o755)
    tree.write("/etc/rsyslog.conf", 'module(load="imuxsock")\n' + RSYSLOG_RULES)
    enable_unit(tree, "multi-user.target", "rsyslog.service")
    tree.write(
        "/etc/logrotate.conf", data_file(Path("/etc/logrotate.conf"), "logrotate").read_text()
    )
    tree.write(
        "/etc/logrotate.d/rsyslog",
        "/var/log/syslog\n/var/log/auth.log\n/var/log/cron.log\n/var/log/kern.log\n{\n"
        f"\trotate {weeks_kept}\n\tweekly\n\tmissingok\n\tcompress\n\tpostrotate\n"
        "\t\t/usr/lib/rsyslog/rsyslog-rotate\n\tendscript\n}\n",
    )


GNOME_SCHEMAS = Path("/usr/share/glib-2.0/schemas")


def gnome_desktop(tree: HostTree, dconf: str, locks: str = "") -> None:
    """A GNOME PC: gnome-shell, this host's GNOME desktop schemas and Debian's vendor override
    (gsettings-desktop-schemas), and a dconf system database "local" holding dconf."""
    tree.write("/usr/bin/gnome-shell", "#!/bin/sh\n", 0o755)
    for name in (
        "org.gnome.desktop.session.gschema.xml",
        "org.gnome.desktop.screensaver.gschema.xml",
        "org.gnome.desktop.media-handling.gschema.xml",
        "10_gsettings-desktop-schemas.gschema.override",
    ):
        source = data_file(GNOME_SCHEMAS / name, "gsettings-desktop-schemas")
        tree.write(f"{GNOME_SCHEMAS}/{name}", source.read_text())
    tree.write("/etc/dconf/profile/user", "user-db:user\nsystem-db:local\n")
    tree.write("/etc/dconf/db/local.d/00-site", dconf)
    if locks:
        tree.write("/etc/dconf/db/local.d/locks/00-site", locks)


def apt_lists(tree: HostTree, refreshed: datetime) -> None:
    lists = Path("/var/lib/apt/lists")
    sources = sorted(lists.glob("*InRelease"))
    if not sources:
        pytest.fail("this host has no apt lists to copy: run apt-get update")
    for source in sources[:2]:
        target = f"/var/lib/apt/lists/{source.name}"
        tree.write(target, source.read_text(errors="replace"))
        tree.touch(target, refreshed)


def kernels(tree: HostTree, running: str, installed: Sequence[str]) -> None:
    tree.write("/proc/sys/kernel/osrelease", running + "\n")
    for version in installed:
        tree.write(f"/boot/vmlinuz-{version}", "")


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
# The same with pam_pwhistory before pam_unix, as CIS Debian 12 5.3.3.3 has it.
PAM_PASSWORD_WITH_HISTORY = (
    "password\trequisite\t\t\tpam_pwquality.so retry=3\n"
    "password\trequisite\t\t\tpam_pwhistory.so remember=5 enforce_for_root use_authtok\n"
    + PAM_PASSWORD_WITH_PWQUALITY.split("\n", 1)[1]
)
# What pam-auth-update writes into common-auth on a stock Debian: no lockout.
PAM_AUTH_STOCK = (
    "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
    "auth\trequisite\t\t\tpam_deny.so\n"
    "auth\trequired\t\t\tpam_permit.so\n"
)
# With pam_faillock around pam_unix (pam_faillock(8)'s example for Debian's layout).
PAM_AUTH_WITH_FAILLOCK = (
    "auth\trequisite\t\t\tpam_faillock.so preauth\n"
    "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n"
    "auth\t[default=die]\t\t\tpam_faillock.so authfail\n"
    "auth\trequisite\t\t\tpam_deny.so\n"
    "auth\trequired\t\t\tpam_permit.so\n"
    "auth\tsufficient\t\t\tpam_faillock.so authsucc\n"
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
    tree.write("/etc/pam.d/common-password", PAM_PASSWORD_WITH_HISTORY)
    tree.write("/etc/pam.d/common-auth", PAM_AUTH_WITH_FAILLOCK)
    tree.write("/etc/security/faillock.conf", "deny = 5\nunlock_time = 900\n")
    tree.capture_sockets(
        tcp=[("0.0.0.0", 22), ("::", 22), ("127.0.0.1", 631)], udp=[("0.0.0.0", 68)]
    )
    tree.write(
        "/etc/ssh/sshd_config",
        SSHD_HEADER + "PermitRootLogin prohibit-password\nPasswordAuthentication yes\n",
    )
    tree.write("/etc/ssh/sshd_config.d/50-site.conf", "X11Forwarding no\nMaxAuthTries 4\n")
    now = datetime.now(UTC)
    clamav = [
        ("clamav", "utils", ["/usr/bin/clamscan"]),
        ("clamav-freshclam", "utils", ["/usr/bin/freshclam"]),
        ("clamav-daemon", "utils", ["/usr/sbin/clamd"]),
    ]
    tree.install_packages(debs(root.parent / "debs-clean", PACKAGES_COMMON + clamav))
    apt_lists(tree, now - timedelta(hours=6))
    kernels(tree, "6.1.0-28-amd64", ["6.1.0-28-amd64"])
    tree.path("/var/lib/clamav").mkdir(parents=True)
    tree.path("/var/lib/clamav/main.cvd").write_bytes(
        cvd_header("main", 62, now - timedelta(days=300))
    )
    tree.path("/var/lib/clamav/daily.cld").write_bytes(
        cvd_header("daily", 27100, now - timedelta(hours=20))
    )
    tree.write("/var/log/clamav/clamscan.log", clamscan_summary(now - timedelta(days=2)))
    tree.add_process(1, "systemd", "/usr/lib/systemd/systemd")
    tree.add_process(310, "clamd", "/usr/sbin/clamd")
    tree.add_process(311, "freshclam", "/usr/bin/freshclam")
    tree.add_process(400, "sshd", "/usr/sbin/sshd", [("tcp", 22)])
    tree.add_process(410, "cupsd", "/usr/sbin/cupsd", [("tcp", 631)])
    tree.write_wtmp([("alice", "pts/0", now - timedelta(days=2))])
    tree.lastlog_now("bob")
    tree.write("/etc/nftables.conf", NFTABLES_DEFAULT_DENY)
    enable_unit(tree, "sysinit.target", "systemd-timesyncd.service")
    enable_unit(tree, "sysinit.target", "apparmor.service")
    rsyslog(tree, weeks_kept=26)
    gnome_desktop(
        tree,
        "[org/gnome/desktop/session]\nidle-delay=uint32 600\n\n"
        "[org/gnome/desktop/media-handling]\nautomount=false\nautomount-open=false\n",
        "/org/gnome/desktop/session/idle-delay\n/org/gnome/desktop/screensaver/lock-enabled\n"
        "/org/gnome/desktop/media-handling/automount\n",
    )
    # Debian's stock sudoers (root and %sudo), as the sudo package ships it.
    tree.write("/etc/sudoers", data_file(Path("/etc/sudoers"), "sudo").read_text(), 0o440)
    enable_unit(tree, "sysinit.target", "nftables.service")
    tree.touch("/srv/backup/nightly.tar.gz", now - timedelta(hours=10))
    tree.touch("/mnt/offsite/weekly.tar.gz", now - timedelta(days=3))
    return tree


# Values a server would hand the clean twin; with them every policy-bound check passes there.
def clean_policy(tree: HostTree) -> dict[str, dict[str, object]]:
    users = [line.split(":")[0] for line in tree.path("/etc/passwd").read_text().splitlines()]
    status = tree.path("/var/lib/dpkg/status").read_text()
    packages = [line.split()[1] for line in status.splitlines() if line.startswith("Package:")]
    return {
        "accounts.unapproved": {"params": {"approved": ["alice", "bob"]}},
        "accounts.added_since_baseline": {"params": {"baseline": users}},
        "accounts.admin_members": {"params": {"approved_admins": ["alice"]}},
        "accounts.password_changed_since_handover": {
            "params": {"go_live_date": "2020-01-01", "handover_date": "2021-06-01"}
        },
        "software.allow_list": {"params": {"allowed": ["openssh-*", "cups*", "clamav*"]}},
        "software.baseline": {"params": {"baseline": packages}},
        "backup.freshness": {
            "params": {"local_locations": ["/srv/backup"], "offsite_locations": ["/mnt/offsite"]}
        },
    }


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
    tree.write("/etc/pam.d/common-auth", PAM_AUTH_STOCK)
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
    now = datetime.now(UTC)
    tree.useradd("pi")
    tree.set_known_password("pi", "raspberry", "yescrypt")
    tree.useradd("eve")
    tree.set_known_password("eve", "eve123", "sha512")
    tree.add_to_group("alice", "sudo")
    tree.set_last_change("eve", "2019-05-01")
    denied = [
        ("sl", "games", ["/usr/games/sl"]),
        ("x11vnc", "x11", ["/usr/bin/x11vnc"]),
        ("transmission-daemon", "net", ["/usr/bin/transmission-daemon"]),
    ]
    long_ago = (now - timedelta(days=200)).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    tree.install_packages(debs(root.parent / "debs-faulty", PACKAGES_COMMON + denied), long_ago)
    apt_lists(tree, now - timedelta(days=60))
    kernels(tree, "6.1.0-9-amd64", ["6.1.0-9-amd64", "6.1.0-28-amd64"])
    tree.write("/etc/os-release", DEBIAN_10_OS_RELEASE)
    tree.add_process(1, "systemd", "/usr/lib/systemd/systemd")
    tree.add_process(400, "sshd", "/usr/sbin/sshd", [("tcp", 22)])
    tree.write("/var/tmp/.x/httpd", "#!/bin/sh\n")
    tree.add_process(666, "httpd", "/var/tmp/.x/httpd", [("tcp", 8080)])
    tree.write_wtmp([("carol", "pts/1", now - timedelta(days=200))])
    # Debian's stock nftables.conf, enabled: an input chain that accepts everything.
    tree.write("/etc/nftables.conf", data_file(Path("/etc/nftables.conf"), "nftables").read_text())
    tree.write("/etc/sudoers", data_file(Path("/etc/sudoers"), "sudo").read_text(), 0o440)
    enable_unit(tree, "sysinit.target", "nftables.service")
    tree.touch("/srv/backup/old.tar.gz", now - timedelta(days=30))
    tree.write("/sys/class/net/eth0/address", "52:54:00:aa:bb:cc\n")
    tree.path("/etc/shadow").chmod(0o644)
    # No syslog daemon, no journald; a log and a script anyone may change; a root shell.
    tree.write("/var/log/lab.log", "", 0o666)
    tree.write("/usr/local/bin/backup.sh", "#!/bin/sh\n", 0o777)
    tree.write("/usr/local/bin/.helper", "#!/bin/sh\n", 0o4755)
    # The lab PC's screen never locks ("the projector kept going dark"); automount as shipped.
    gnome_desktop(tree, "[org/gnome/desktop/session]\nidle-delay=uint32 0\n")
    expected = {
        ("accounts.uid0_extra", "user:toor"),
        ("accounts.empty_password", "user:alice"),
        ("accounts.weak_password_hash", "user:bob"),
        ("accounts.password_age", "user:carol"),
        ("accounts.duplicate_uid", f"uid:{tree.users['carol']}"),
        ("accounts.duplicate_uid", "uid:0"),
        ("password.policy", "policy:min_length"),
        ("password.policy", "policy:complexity"),
        ("password.policy", "policy:max_age"),
        ("password.lockout", "policy:lockout"),  # stock common-auth: no pam_faillock
        ("password.history", "policy:history"),  # no pam_pwhistory
        ("logs.persistent", "host"),
        ("logs.file_permissions", "file:/var/log/lab.log"),
        ("files.world_writable", "file:/usr/local/bin/backup.sh"),
        ("files.setid_programs", "file:/usr/local/bin/.helper"),
        ("services.screen_lock", "desktop:screen_lock"),
        ("services.media_automount", "desktop:automount"),
        ("services.listening", "port:tcp/23"),
        ("services.listening", "port:tcp/8080"),
        ("network.dhcp_server", "port:udp/67"),
        ("patch.reboot_required", "host"),
        ("ssh.root_login", "service:sshd"),
        ("ssh.empty_passwords", "service:sshd"),
        ("ssh.authentication", "ssh:MaxAuthTries"),  # OpenSSH's default of 6
        ("network.time_sync", "host"),  # no time service enabled
        ("system.mandatory_access_control", "host"),  # no AppArmor, no SELinux
        ("files.account_file_permissions", "file:/etc/shadow"),
        ("accounts.weak_password", "user:pi"),
        ("accounts.weak_password", "user:eve"),
        ("accounts.password_age", "user:eve"),
        ("accounts.unused", "user:carol"),
        ("accounts.unused", "user:eve"),
        ("antivirus.installed", "host"),
        ("software.deny_list", "package:sl"),
        ("software.deny_list", "package:x11vnc"),
        ("software.deny_list", "package:transmission-daemon"),
        ("software.unpackaged_listeners", "program:/var/tmp/.x/httpd"),
        ("firewall.host_firewall", "host"),
        ("patch.package_lists_age", "apt:lists"),
        ("patch.last_install", "host"),
        ("patch.eol_release", "host"),
        ("patch.reboot_required", "kernel"),
    }
    return tree, expected


# Policy values for the faulty tree, and the failures they add.
def faulty_policy() -> tuple[dict[str, dict[str, object]], set[tuple[str, str]]]:
    policy: dict[str, dict[str, object]] = {
        "accounts.admin_members": {"params": {"approved_admins": ["bob"]}},
        "accounts.added_since_baseline": {
            "params": {"baseline": [*_master_names(), "alice", "bob", "carol"]}
        },
        "accounts.password_changed_since_handover": {"params": {"handover_date": "2020-01-01"}},
        "software.allow_list": {"params": {"allowed": ["openssh-server", "cups-daemon"]}},
        "software.baseline": {"params": {"baseline": ["openssh-server", "cups-daemon", "sl"]}},
        "network.identity": {"params": {"registered_macs": ["52:54:00:12:34:56"]}},
        "backup.freshness": {"params": {"local_locations": ["/srv/backup"]}},
    }
    added = {
        ("accounts.admin_members", "user:alice"),
        ("accounts.added_since_baseline", "user:toor"),
        ("accounts.added_since_baseline", "user:dave"),
        ("accounts.added_since_baseline", "user:pi"),
        ("accounts.added_since_baseline", "user:eve"),
        ("accounts.password_changed_since_handover", "user:carol"),
        ("accounts.password_changed_since_handover", "user:eve"),
        ("software.allow_list", "package:sl"),
        ("software.allow_list", "package:x11vnc"),
        ("software.allow_list", "package:transmission-daemon"),
        ("software.baseline", "package:x11vnc"),
        ("software.baseline", "package:transmission-daemon"),
        ("network.identity", "network:mac"),
        ("backup.freshness", "backup:local:/srv/backup"),
        ("backup.freshness", "backup:offsite"),
    }
    return policy, added


def _master_names() -> list[str]:
    text = (BASE_PASSWD_DIR / "passwd.master").read_text()
    return [line.split(":")[0] for line in text.splitlines() if line]
