"""The SSH connection against the real sshd: the ways of becoming root, and that the sudo
password is consumed by sudo, never handed on to the command (or printed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.sshd import Account, Sshd, make_account
from xunjian.deploy.failures import DeployFailure
from xunjian.deploy.inventory import HostEntry
from xunjian.deploy.remote import Connection, KnownHosts

pytestmark = pytest.mark.integration
PASSWORD_ENV = "XJ_TEST_REMOTE_PASSWORD"


@pytest.fixture
def known_hosts(sshd: Sshd, tmp_path: Path) -> KnownHosts:
    path = tmp_path / "known_hosts"
    path.write_text(sshd.known_hosts_line())
    return KnownHosts(path, trust_on_first_use=False)


@pytest.fixture
def nopasswd_account(sshd: Sshd) -> Iterator[Account]:
    made = make_account(sshd.folder, nopasswd=True)
    try:
        yield made
    finally:
        made.remove()


def entry(sshd: Sshd, account: Account, **keys: object) -> HostEntry:
    values: dict = {"index": 1, "address": "127.0.0.1", "port": sshd.port, "group": "default"}
    values.update(user=account.name, sudo=True)
    values.update(keys)
    return HostEntry(**values)


def connect(host: HostEntry, known_hosts: KnownHosts) -> Connection:
    connection = Connection(host, known_hosts)
    connection.open()
    connection.become_root()
    return connection


def test_sudo_with_password_on_stdin(
    sshd: Sshd,
    account: Account,
    known_hosts: KnownHosts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, account.password)
    connection = connect(entry(sshd, account, password_env=PASSWORD_ENV), known_hosts)
    try:
        assert connection.sudo_mode == "password"
        assert connection.run("id -u", root=True).stdout.strip() == "0"
        assert connection.run("id -un").stdout.strip() == account.name
        # The script's input is exactly what the caller gave: sudo took the password line.
        echoed = connection.run("cat", root=True, stdin=b"token-line\n")
        assert echoed.stdout == "token-line\n"
        assert account.password not in echoed.stdout + echoed.stderr
        # The password is never on a command line: sudo reads it again each time (-k).
        assert connection.run("sudo -n true").status != 0
        slow = connection.run("sleep 5", timeout=1)
        assert slow.status == 124 and "did not finish" in slow.stderr
    finally:
        connection.close()


def test_key_login_with_sudo_password_from_its_own_variable(
    sshd: Sshd,
    account: Account,
    known_hosts: KnownHosts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XJ_TEST_SUDO_PASSWORD", account.password)
    host = entry(sshd, account, key=account.key, sudo_password_env="XJ_TEST_SUDO_PASSWORD")
    connection = connect(host, known_hosts)
    try:
        assert connection.sudo_mode == "password"
        assert connection.run("id -u", root=True).stdout.strip() == "0"
    finally:
        connection.close()


def test_sudo_without_password(
    sshd: Sshd, nopasswd_account: Account, known_hosts: KnownHosts
) -> None:
    connection = connect(entry(sshd, nopasswd_account, key=nopasswd_account.key), known_hosts)
    try:
        assert connection.sudo_mode == "nopasswd"
        assert connection.run("id -u", root=True).stdout.strip() == "0"
        assert connection.run("cat", root=True, stdin=b"as given\n").stdout == "as given\n"
    finally:
        connection.close()


def test_sudo_wanting_a_password_nobody_gave(
    sshd: Sshd, account: Account, known_hosts: KnownHosts
) -> None:
    connection = Connection(entry(sshd, account, key=account.key), known_hosts)
    connection.open()
    try:
        with pytest.raises(DeployFailure) as caught:
            connection.become_root()
        assert caught.value.reason == "sudo"
        assert "sudo_password_env" in caught.value.message
    finally:
        connection.close()
