"""One SSH connection to a host: pinned host keys, key or password login, root through sudo,
commands with bounded output and a timeout, and SFTP uploads. paramiko is imported here only.

Host keys: only keys in the known_hosts file are accepted. A host missing from it is refused
(``host key unknown``) unless the command runs in trust-on-first-use mode, which records the
key it sees; a host whose key differs from the recorded one is always refused
(``host key mismatch``), in either mode.

Secrets: the login password goes to paramiko only; the sudo password is written to ``sudo -S``
on the channel's standard input, never into a command line, and never printed. ``sudo -k``
makes sudo read it every time (a cached credential would leave the password unread on the
command's input).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xunjian.deploy.failures import (
    AUTHENTICATION,
    HOST_KEY_MISMATCH,
    HOST_KEY_UNKNOWN,
    INSTALL,
    SUDO,
    UNREACHABLE,
    DeployFailure,
)
from xunjian.deploy.inventory import HostEntry

MAX_OUTPUT_BYTES = 256 * 1024
CONNECT_TIMEOUT_SECONDS = 20.0
SCRIPT_PREFIX = (
    "export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
)


def fingerprint(key: Any) -> str:
    """OpenSSH's form: ``SHA256:`` and the unpadded base64 of the key blob's SHA-256."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass(frozen=True)
class Completed:
    status: int
    stdout: str
    stderr: str

    def tail(self, lines: int = 12) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-lines:])


class KnownHosts:
    """The pinned host keys of one run, shared by the hosts' threads."""

    def __init__(self, path: Path, trust_on_first_use: bool) -> None:
        self.path = path
        self.trust_on_first_use = trust_on_first_use
        self._lock = threading.Lock()

    def load_into(self, client: Any) -> None:
        if self.path.exists():
            with self._lock:
                client.get_host_keys().load(str(self.path))

    def record(self, hostname: str, key: Any) -> None:
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with self.path.open("a", encoding="ascii") as handle:
                handle.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")

    def policy(self, connection: Connection) -> Any:
        import paramiko

        known_hosts = self

        class Policy(paramiko.MissingHostKeyPolicy):
            def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
                if not known_hosts.trust_on_first_use:
                    raise _UnknownHostKey(hostname, key)
                known_hosts.record(hostname, key)
                client.get_host_keys().add(hostname, key.get_name(), key)
                connection.recorded_key = f"{key.get_name()} {fingerprint(key)}"

        return Policy()


class _UnknownHostKey(Exception):
    def __init__(self, hostname: str, key: Any) -> None:
        super().__init__(hostname)
        self.hostname = hostname
        self.key = key


class Connection:
    """A logged-in SSH session to one host; ``become_root`` before ``run(..., root=True)``."""

    def __init__(self, host: HostEntry, known_hosts: KnownHosts) -> None:
        self.host = host
        self.known_hosts = known_hosts
        self.client: Any = None
        self.recorded_key: str | None = None
        self.sudo_mode: str | None = None  # "root", "nopasswd" or "password"

    # -- connecting -----------------------------------------------------------------------
    def open(self, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
        import paramiko

        # paramiko's transport thread logs its own tracebacks; the failure reaches the summary
        # with its reason, so they would only repeat it (and Python prints unhandled records).
        paramiko_log = logging.getLogger("paramiko")
        if not paramiko_log.handlers:
            paramiko_log.addHandler(logging.NullHandler())
        host = self.host
        client = paramiko.SSHClient()
        try:
            self.known_hosts.load_into(client)
        except OSError as exc:
            raise DeployFailure(
                HOST_KEY_UNKNOWN, f"cannot read {self.known_hosts.path}: {exc.strerror}"
            ) from None
        client.set_missing_host_key_policy(self.known_hosts.policy(self))
        login: dict[str, Any] = {"look_for_keys": False, "allow_agent": False}
        if host.key is not None:
            login["key_filename"] = str(host.key)
        else:
            password = host.password()
            if password is None:
                raise DeployFailure(AUTHENTICATION, f"{host.password_env} is no longer set")
            login["password"] = password
        try:
            client.connect(
                host.address,
                port=host.port,
                username=host.user,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                **login,
            )
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise DeployFailure(
                HOST_KEY_MISMATCH,
                f"the host presented {exc.key.get_name()} {fingerprint(exc.key)}, but "
                f"{self.known_hosts.path} pins {exc.expected_key.get_name()} "
                f"{fingerprint(exc.expected_key)} for {host.known_hosts_name}. Refused: either "
                "the host was reinstalled (verify its new key at its console, then replace the "
                "line) or something is impersonating it. Nothing was done on it.",
            ) from None
        except _UnknownHostKey as exc:
            client.close()
            raise DeployFailure(
                HOST_KEY_UNKNOWN,
                f"{exc.hostname} is not in {self.known_hosts.path} (it offered "
                f"{exc.key.get_name()} {fingerprint(exc.key)}). Add its key (ssh-keyscan, then "
                "compare the fingerprint with the host's own), or run once with "
                "--trust-on-first-use. Nothing was done on it.",
            ) from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise DeployFailure(
                AUTHENTICATION,
                f"the key file {host.key} is protected by a passphrase; use a deploy key "
                "without one (kept 0600 on the server's host)",
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            method = f"the key {host.key}" if host.key else f"the password in ${host.password_env}"
            raise DeployFailure(
                AUTHENTICATION, f"{host.user}@{host.address} refused {method}: {exc}"
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            detail = str(exc) or type(exc).__name__
            if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
                detail = "connection refused (no SSH server listening there)"
            elif isinstance(exc, socket.timeout | TimeoutError):
                detail = f"no answer within {timeout:.0f}s"
            raise DeployFailure(
                UNREACHABLE, f"cannot open SSH to {host.address} port {host.port}: {detail}"
            ) from None
        self.client = client

    def become_root(self) -> None:
        """Decide how commands get root: logged in as root, sudo without or with a password."""
        host = self.host
        if host.user == "root":
            self.sudo_mode = "root"
            return
        if not host.sudo:
            raise DeployFailure(
                SUDO,
                f"logged in as {host.user}, not root, and sudo = false: installing needs root. "
                "Set sudo = true in the inventory or log in as root.",
            )
        if self._exec("sudo -n true", b"", 60).status == 0:
            self.sudo_mode = "nopasswd"
            return
        password = host.sudo_password()
        if password is None:
            raise DeployFailure(
                SUDO,
                f"sudo on {host.address} wants {host.user}'s password; give password_env or "
                "sudo_password_env in the inventory (or allow the account sudo without one)",
            )
        done = self._exec("sudo -k -S -p '' true", password.encode() + b"\n", 60)
        if done.status != 0:
            raise DeployFailure(
                SUDO,
                f"sudo refused {host.user} on {host.address} (wrong password, or the account "
                f"may not use sudo): {done.tail(3)}",
            )
        self.sudo_mode = "password"

    # -- commands -------------------------------------------------------------------------
    def _exec(self, command: str, stdin: bytes, timeout: float) -> Completed:
        import paramiko

        try:
            return self._exec_on_channel(command, stdin, timeout)
        except TimeoutError:  # an OSError too, but the command's, not the connection's
            raise
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise DeployFailure(
                UNREACHABLE, f"the SSH connection to {self.host.address} broke: {exc}"
            ) from None

    def _exec_on_channel(self, command: str, stdin: bytes, timeout: float) -> Completed:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise DeployFailure(UNREACHABLE, f"the SSH connection to {self.host.address} closed")
        channel = transport.open_session(timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            channel.exec_command(command)
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            out, err = bytearray(), bytearray()
            deadline = time.monotonic() + timeout
            while True:
                if channel.recv_ready():
                    out += channel.recv(65536)
                    del out[:-MAX_OUTPUT_BYTES]
                elif channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                    del err[:-MAX_OUTPUT_BYTES]
                elif channel.exit_status_ready():
                    break
                elif time.monotonic() > deadline:
                    raise TimeoutError(f"the command did not finish within {timeout:.0f}s")
                else:
                    time.sleep(0.02)
            status = channel.recv_exit_status()
        finally:
            channel.close()
        return Completed(status, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"))

    def run(
        self, script: str, *, root: bool = False, stdin: bytes = b"", timeout: float = 300
    ) -> Completed:
        """Run a POSIX sh script (as root with ``root=True``); ``stdin`` goes to the script."""
        command = "sh -c " + shlex.quote(SCRIPT_PREFIX + script)
        if root and self.sudo_mode != "root":
            if self.sudo_mode == "nopasswd":
                command = "sudo -n -- " + command
            elif self.sudo_mode == "password":
                password = self.host.sudo_password()
                if password is None:
                    raise DeployFailure(SUDO, "the sudo password's variable is no longer set")
                command = "sudo -k -S -p '' -- " + command
                stdin = password.encode() + b"\n" + stdin
            else:
                raise DeployFailure(SUDO, "become_root() was not called")
        try:
            return self._exec(command, stdin, timeout)
        except TimeoutError as exc:
            return Completed(124, "", str(exc))

    def put(self, local: Path, remote: str) -> None:
        self._sftp(lambda sftp: sftp.put(str(local), remote), remote)

    def put_text(self, text: str, remote: str) -> None:
        def write(sftp: Any) -> None:
            with sftp.open(remote, "w") as handle:
                handle.write(text.encode("utf-8"))

        self._sftp(write, remote)

    def _sftp(self, action: Any, remote: str) -> None:
        """Upload into the staging folder (0700, the login user's); files end up 0600."""
        import paramiko

        try:
            sftp = self.client.open_sftp()
            try:
                action(sftp)
                sftp.chmod(remote, 0o600)
            finally:
                sftp.close()
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise DeployFailure(
                INSTALL, f"uploading {remote} over SFTP failed (is sftp enabled in sshd?): {exc}"
            ) from None

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
