"""A real OpenSSH server (Debian's openssh-server, tests/system-packages.txt) on a free loopback
port, with its own configuration, host key, log (-E) and test accounts made with useradd and
chpasswd. Account names are unique per run, so parallel runs never collide, and are removed
afterwards; the account commands themselves take turns (``change_password``, tests/machine.py).
Only the test accounts may log in (AllowUsers)."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness import free_port, stop_process
from tests.machine import ACCOUNTS, machine_lock

SSHD = "/usr/sbin/sshd"


def require_root_and_sshd() -> None:
    if os.geteuid() != 0:
        raise AssertionError("tests/devices make local accounts with useradd: run them as root")
    if not Path(SSHD).exists():
        raise AssertionError(f"{SSHD} is missing: apt-get install openssh-server")


@dataclass
class Account:
    name: str
    password: str
    password_login: bool = True
    authorized_key: str | None = None


@dataclass
class Sshd:
    folder: Path
    accounts: dict[str, Account] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    # Every one of these is loopback (Linux routes all of 127.0.0.0/8 to lo): several "devices"
    # can be one sshd.
    addresses: tuple[str, ...] = ("127.0.0.1",)
    # More sshd_config lines (before the Match blocks), e.g. "Banner /path".
    extra_config: list[str] = field(default_factory=list)
    # PAM (Debian's common-auth, pam_unix) instead of sshd's own shadow check: the way to get
    # keyboard-interactive password prompts.
    use_pam: bool = False

    @classmethod
    def make(cls, addresses: tuple[str, ...] = ("127.0.0.1",)) -> Sshd:
        require_root_and_sshd()
        # Under /tmp and traversable: sshd reads authorized_keys as the account, not as root.
        folder = Path(tempfile.mkdtemp(prefix="xj-sshd-"))
        folder.chmod(0o755)
        return cls(folder=folder, addresses=addresses)

    @property
    def log_path(self) -> Path:
        return self.folder / "sshd.log"

    def user(self, role: str) -> str:
        """A unique account name for a role, e.g. xjd3f2a1default."""
        return f"xjd{self.tag}{role}"[:32]

    def add_account(
        self,
        role: str,
        password: str,
        password_login: bool = True,
        authorized_key: str | None = None,
    ) -> Account:
        name = self.user(role)
        with machine_lock(ACCOUNTS):
            subprocess.run(
                [
                    "useradd",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/bin/sh",
                    name,
                ],
                check=True,
                capture_output=True,
            )
        account = Account(name, password, password_login, authorized_key)
        self.accounts[name] = account
        change_password(name, password)
        if authorized_key:
            keys = self.folder / "keys"
            keys.mkdir(mode=0o755, exist_ok=True)
            (keys / name).write_text(authorized_key + "\n")
            (keys / name).chmod(0o644)
        return account

    def _config(self) -> str:
        lines = [
            f"Port {self.port}",
            *(f"ListenAddress {address}" for address in self.addresses),
            f"HostKey {self.folder / 'host_ed25519'}",
            f"PidFile {self.folder / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.folder / 'keys'}/%u",
            f"UsePAM {'yes' if self.use_pam else 'no'}",
            f"PasswordAuthentication {'no' if self.use_pam else 'yes'}",
            f"KbdInteractiveAuthentication {'yes' if self.use_pam else 'no'}",
            "PubkeyAuthentication yes",
            "PermitRootLogin no",
            "PermitEmptyPasswords no",
            "StrictModes no",
            "MaxAuthTries 6",
            "MaxStartups 100:30:200",
            "LogLevel VERBOSE",
            "PrintMotd no",
            "Subsystem sftp internal-sftp",
            f"AllowUsers {' '.join(sorted(self.accounts)) or 'nobody-at-all'}",
            *self.extra_config,
        ]
        for account in self.accounts.values():
            if not account.password_login:
                lines += [f"Match User {account.name}", "    PasswordAuthentication no"]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # privilege separation folder
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                str(self.folder / "host_ed25519"),
            ],
            check=True,
            capture_output=True,
        )
        config = self.folder / "sshd_config"
        config.write_text(self._config())
        subprocess.run([SSHD, "-t", "-f", str(config)], check=True, capture_output=True)
        self.process = subprocess.Popen(
            [SSHD, "-D", "-f", str(config), "-E", str(self.log_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.addresses[-1], self.port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"SSH-"):
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"sshd did not start:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def password_attempts(self, user: str) -> int:
        """Password attempts sshd logged for ``user`` (failed and accepted)."""
        pattern = re.compile(rf"(Failed|Accepted) password for (invalid user )?{re.escape(user)} ")
        return sum(1 for line in self.log().splitlines() if pattern.search(line))

    def stop(self) -> None:
        stop_process(self.process)
        for name in list(self.accounts):
            with machine_lock(ACCOUNTS):
                subprocess.run(["userdel", name], capture_output=True, check=False)
            self.accounts.pop(name)
        shutil.rmtree(self.folder, ignore_errors=True)


def change_password(name: str, password: str) -> None:
    """chpasswd for a test's own account. The account is the test's, the shadow file the
    machine's: chpasswd fails rather than waits while another account command holds it."""
    with machine_lock(ACCOUNTS):
        subprocess.run(
            ["chpasswd"], input=f"{name}:{password}\n".encode(), check=True, capture_output=True
        )


class ResettingProxy:
    """A loopback TCP forwarder to sshd that lets ``allowed`` connections through and then
    resets every new one (RST): how fail2ban or a device's own lockout looks from outside."""

    def __init__(self, target_port: int, allowed: int) -> None:
        self.target_port = target_port
        self.allowed = allowed
        self.accepted = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = int(self.listener.getsockname()[1])
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted > self.allowed:
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
