"""The Linux collectors over SSH, logged in with the organisation's own key (docs/devices.md).

Read only, by construction: the files the collectors read are fetched over SFTP (a fixed list,
each at most ``MAX_FILE_BYTES``) into a private temporary host tree, and the checks run on that
tree exactly as ``xunjian scan --root`` runs them; the only commands run on the device are the
read-only ones in ``ALLOWED_COMMANDS`` (a simulated upgrade, a dry cache read), through
``SshRunner``. A file the account may not read is remembered, so its collector says "no
privilege" instead of reading an absent file as "nothing there".

The organisation's key is ``DATA/device-ssh.key`` (Ed25519, OpenSSH format, 0600), made on
first use; ``xunjian server device key`` prints its public half for the devices'
``authorized_keys``.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checks.engine import run_checks
from checks.errors import CommandError, CommandTimeout, CommandUnavailable, NoPrivilege
from checks.factset import FactSource
from checks.host import HostContext
from checks.inventory import collect_inventory_from
from checks.runner import CommandResult
from server.config import write_private

KEY_NAME = "device-ssh.key"
KEY_COMMENT = "xunjian-device-check"
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024
MAX_DIR_ENTRIES = 64
COMMAND_TIMEOUT = 60.0
MAX_OUTPUT_BYTES = 1024 * 1024

# The files the Linux collectors read (checks/collectors/*), fetched as they are.
FILES = (
    "/etc/passwd",
    "/etc/group",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/login.defs",
    "/etc/os-release",
    "/usr/lib/os-release",
    "/etc/hostname",
    "/etc/debian_version",
    "/etc/redhat-release",
    "/etc/ssh/sshd_config",
    "/etc/security/pwquality.conf",
    "/etc/pam.d/common-password",
    "/etc/pam.d/system-auth",
    "/var/lib/dpkg/status",
    "/var/run/reboot-required",
    "/var/run/reboot-required.pkgs",
    "/proc/net/tcp",
    "/proc/net/tcp6",
    "/proc/net/udp",
    "/proc/net/udp6",
    "/proc/net/if_inet6",
    "/proc/sys/kernel/osrelease",
)
# Folders whose plain files (up to MAX_DIR_ENTRIES) the collectors read.
FOLDERS = (
    "/etc/ssh/sshd_config.d",
    "/etc/security/pwquality.conf.d",
    "/etc/nftables.d",
)
# argv prefixes that only read: a simulated upgrade and dnf's cached metadata.
ALLOWED_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("apt-get", "-s", "-q", "dist-upgrade"),
    ("dnf", "-q", "-C", "check-update"),
    ("dnf", "-q", "-C", "updateinfo", "list", "--security"),
)


def organisation_key(data: Path) -> paramiko.Ed25519Key:
    """DATA/device-ssh.key, made (0600, from the first byte) if missing."""
    path = data / KEY_NAME
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.NoEncryption(),
        )
        # Another process may make it at the same moment: then use theirs.
        with contextlib.suppress(FileExistsError):
            write_private(path, pem)
    return paramiko.Ed25519Key.from_private_key_file(str(path))


def public_key_line(data: Path) -> str:
    key = organisation_key(data)
    return f"{key.get_name()} {key.get_base64()} {KEY_COMMENT}"


class SshRunner:
    """``CommandRunner`` over an SSH connection, for ALLOWED_COMMANDS only."""

    def __init__(self, client: paramiko.SSHClient, timeout: float = COMMAND_TIMEOUT) -> None:
        self.client = client
        self.timeout = timeout

    def run(self, argv: Sequence[str], timeout: float | None = None) -> CommandResult:
        words = tuple(argv)
        if not any(words[: len(allowed)] == allowed for allowed in ALLOWED_COMMANDS):
            raise CommandUnavailable(f"{words[0] if words else '?'} is not run on devices")
        limit = self.timeout if timeout is None else timeout
        command = "LC_ALL=C LANG=C " + shlex.join(words)
        try:
            _stdin, stdout, stderr = self.client.exec_command(command, timeout=limit)
            channel = stdout.channel
            deadline = time.monotonic() + limit
            out, err = bytearray(), bytearray()
            while not channel.exit_status_ready() or channel.recv_ready():
                if time.monotonic() > deadline:
                    channel.close()
                    raise CommandTimeout(f"{words[0]} ran longer than {limit:g} s on the device")
                if channel.recv_ready():
                    out.extend(channel.recv(65536)[: MAX_OUTPUT_BYTES - len(out)])
                elif channel.recv_stderr_ready():
                    err.extend(channel.recv_stderr(65536)[: MAX_OUTPUT_BYTES - len(err)])
                else:
                    time.sleep(0.05)
            while channel.recv_stderr_ready():
                err.extend(channel.recv_stderr(65536)[: MAX_OUTPUT_BYTES - len(err)])
            returncode = channel.recv_exit_status()
            stderr.close()
        except (paramiko.SSHException, OSError) as exc:
            raise CommandError(f"{words[0]} over SSH failed: {exc}") from exc
        if returncode == 127:
            raise CommandUnavailable(f"{words[0]} is not installed on the device")
        return CommandResult(
            argv=words,
            returncode=returncode,
            stdout=out.decode("utf-8", "replace"),
            stderr=err.decode("utf-8", "replace"),
            truncated=len(out) >= MAX_OUTPUT_BYTES or len(err) >= MAX_OUTPUT_BYTES,
        )


@dataclass(frozen=True)
class RemoteHost(HostContext):
    """A host tree fetched over SFTP; files the account could not read say so."""

    denied: frozenset[str] = frozenset()

    def read_text(self, host_path: str) -> str:
        if host_path in self.denied:
            raise NoPrivilege(f"{host_path} is not readable by the device account")
        return super().read_text(host_path)


class _Fetcher:
    def __init__(self, sftp: paramiko.SFTPClient, root: Path) -> None:
        self.sftp = sftp
        self.root = root
        self.total = 0
        self.denied: set[str] = set()

    def _local(self, host_path: str) -> Path:
        return self.root.joinpath(*Path(host_path).relative_to("/").parts)

    def file(self, host_path: str) -> None:
        if self.total >= MAX_TOTAL_BYTES:
            return
        try:
            info = self.sftp.stat(host_path)
            if info.st_mode is not None and not stat.S_ISREG(info.st_mode):
                return
            with self.sftp.open(host_path, "rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
        except PermissionError:
            self.denied.add(host_path)
            return
        except OSError:
            return  # absent on this device: absent in the tree
        if len(data) > MAX_FILE_BYTES:
            return
        self.total += len(data)
        target = self._local(host_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def folder(self, host_path: str) -> None:
        try:
            entries = self.sftp.listdir_attr(host_path)
        except PermissionError:
            self.denied.add(host_path)
            return
        except OSError:
            return
        self._local(host_path).mkdir(parents=True, exist_ok=True)
        for entry in sorted(entries, key=lambda item: item.filename)[:MAX_DIR_ENTRIES]:
            if entry.st_mode is not None and stat.S_ISREG(entry.st_mode):
                self.file(f"{host_path}/{entry.filename}")


@dataclass(frozen=True)
class RemoteScan:
    results: list[dict[str, Any]]
    inventory: dict[str, Any]


def scan_over_ssh(
    client: paramiko.SSHClient, policy_checks: Mapping[str, Mapping[str, Any]] | None
) -> RemoteScan:
    """Fetch the collectors' files, run the checks on them, return results and inventory."""
    with tempfile.TemporaryDirectory(prefix="xunjian-device-") as folder:
        os.chmod(folder, 0o700)
        root = Path(folder)
        sftp = client.open_sftp()
        try:
            fetcher = _Fetcher(sftp, root)
            for host_path in FILES:
                fetcher.file(host_path)
            for host_path in FOLDERS:
                fetcher.folder(host_path)
        finally:
            sftp.close()
        host = RemoteHost(
            root=root,
            runner=SshRunner(client),
            platform="linux",
            is_tree=True,
            denied=frozenset(fetcher.denied),
        )
        results = [
            result.to_dict() for result in run_checks(FactSource(host), "linux", policy_checks)
        ]
        inventory = collect_inventory_from(host)
    return RemoteScan(results=results, inventory=inventory)
