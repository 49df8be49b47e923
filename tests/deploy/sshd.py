"""A real OpenSSH server (Debian's openssh-server) on a loopback port, with a configuration,
host key and test account of its own, for the deployment tests.

The account is made with useradd, gets a password (chpasswd), an authorized key and a sudoers
entry that asks for the password; everything is removed afterwards (userdel -r). Needs root,
like the product's own deployment target.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.harness import free_port, stop_process
from tests.machine import ACCOUNTS, machine_lock

SSHD = "/usr/sbin/sshd"
PACKAGES = "openssh-server, sudo, systemd (tests/system-packages.txt)"


def require_tools() -> None:
    missing = [
        tool
        for tool in (SSHD, "/usr/bin/ssh-keygen", "/usr/bin/ssh-keyscan", "/usr/bin/sudo")
        if not Path(tool).exists()
    ]
    if missing:
        raise AssertionError(f"missing {missing}: apt-get install {PACKAGES}")
    if os.geteuid() != 0:
        raise AssertionError("the deployment tests run sshd and useradd: run them as root")


def keygen(path: Path, kind: str = "ed25519") -> str:
    """A new key pair at ``path``; returns the public key line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "xunjian-test", "-f", str(path)],
        check=True,
        timeout=60,
    )
    return Path(f"{path}.pub").read_text().strip()


@dataclass
class Account:
    name: str
    password: str
    key: Path
    sudoers: Path

    def remove(self) -> None:
        self.sudoers.unlink(missing_ok=True)
        with machine_lock(ACCOUNTS):
            subprocess.run(
                ["userdel", "-r", "-f", self.name], check=False, timeout=60, capture_output=True
            )


def make_account(folder: Path, nopasswd: bool = False) -> Account:
    name = f"xjdeploy{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(18)
    # The name is this test's own; the password and group files are the machine's, and
    # useradd and chpasswd fail rather than wait while another holds them (tests/machine.py).
    with machine_lock(ACCOUNTS):
        subprocess.run(
            ["useradd", "-m", "-d", f"/home/{name}", "-s", "/bin/sh", name],
            check=True,
            timeout=60,
        )
    sudoers = Path(f"/etc/sudoers.d/{name}")
    account = Account(name, password, folder / f"{name}_ed25519", sudoers)
    try:
        with machine_lock(ACCOUNTS):
            subprocess.run(
                ["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, timeout=60
            )
        keygen(account.key)
        # sshd reads it as the user: in the account's home, owned by the account.
        home = Path(f"/home/{name}")
        (home / ".ssh").mkdir(mode=0o700)
        (home / ".ssh" / "authorized_keys").write_text(Path(f"{account.key}.pub").read_text())
        for path in (home / ".ssh", home / ".ssh" / "authorized_keys"):
            shutil.chown(path, name, name)
        # By default sudo asks for the account's password: the deployment feeds it on stdin.
        rule = "NOPASSWD: ALL" if nopasswd else "ALL"
        sudoers.write_text(f"{name} ALL=(ALL:ALL) {rule}\n")
        sudoers.chmod(0o440)
        subprocess.run(
            ["visudo", "-c", "-f", str(sudoers)], check=True, timeout=60, capture_output=True
        )
    except BaseException:
        account.remove()
        raise
    return account


@dataclass
class Sshd:
    folder: Path
    port: int
    host_public_key: str
    process: subprocess.Popen[bytes] | None = None

    def known_hosts_line(self, address: str = "127.0.0.1") -> str:
        kind, blob = self.host_public_key.split()[:2]
        return f"[{address}]:{self.port} {kind} {blob}\n"

    def log(self) -> str:
        path = self.folder / "sshd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)


def start_sshd(folder: Path) -> Sshd:
    folder.mkdir(parents=True, exist_ok=True)
    host_key = folder / "ssh_host_ed25519_key"
    public = keygen(host_key)
    port = free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"""Port {port}
ListenAddress 127.0.0.1
ListenAddress 127.0.0.2
ListenAddress 127.0.0.3
ListenAddress 127.0.0.4
ListenAddress 127.0.0.5
HostKey {host_key}
PidFile {folder / "sshd.pid"}
UsePAM no
PermitRootLogin no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
AllowUsers xjdeploy*
MaxStartups 20:30:60
LogLevel VERBOSE
Subsystem sftp internal-sftp
"""
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
    subprocess.run([SSHD, "-t", "-f", str(config)], check=True, timeout=60)
    log = (folder / "sshd.log").open("ab")
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    server = Sshd(folder, port, public, process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"sshd exited {process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(64).startswith(b"SSH-"):
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise AssertionError(f"sshd did not answer on port {port}:\n{server.log()}")


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
