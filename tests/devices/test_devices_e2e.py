"""Device checks end to end, on SQLite and PostgreSQL: a real OpenSSH server (tests/devices/
sshd.py) answering as five "devices" on loopback addresses, a real ``xunjian server`` (two
worker processes) and the ``xunjian`` command line.

The accounts: one with a vendor-default password (found, critical default_credential alert,
the password in no log, oplog entry, alert or command output); one with a strong password
(not found; sshd's own log shows the attempts stayed within the per-check limit); one offered
only public key login (no password tried at all); one that takes the organisation's key (the
Linux collectors' results stored like an agent's); and a connection-resetting proxy in front of
sshd (lockout: the prober stops).

The credential lists are the test's own (``device_credentials_dir``): the passwords are real
vendor defaults from server/devices/credentials, the user names unique to this run."""

from __future__ import annotations

import datetime
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from tests.devices.sshd import ResettingProxy, Sshd, change_password
from tests.harness import ServerUnderTest, run_cli, wait_for
from tests.report_files import csv_text

VENDOR_DEFAULT = "Admin@huawei"  # server/devices/credentials/router.txt
STRONG = "k7#Rq-strong-2026-device!"
MAX_ATTEMPTS = 3


@pytest.fixture
def sshd() -> Iterator[Sshd]:
    daemon = Sshd.make(addresses=("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"))
    try:
        yield daemon
    finally:
        daemon.stop()


def _cli(server: ServerUnderTest, *words: str, check: bool = True) -> subprocess.CompletedProcess:
    return run_cli("server", "device", *words, "--data", str(server.data), check=check)


def _lists(folder: Path, sshd: Sshd) -> None:
    default, strong = sshd.user("default"), sshd.user("strong")
    keyonly, linux = sshd.user("keyonly"), sshd.user("linux")
    folder.mkdir()
    lists = {
        "router": [f"{default}:password", f"{default}:{VENDOR_DEFAULT}"],
        # One more than the per-check limit: the last one must never be tried.
        "switch": [f"{strong}:admin", f"{strong}:password", f"{strong}:1234", f"{strong}:ubnt"],
        "ap": [f"{keyonly}:ubnt", f"{keyonly}:admin"],
        "linux": [f"{linux}:root"],
        "nas": [f"{strong}:admin", f"{strong}:password", f"{strong}:1234"],
    }
    for device_type, lines in lists.items():
        (folder / f"{device_type}.txt").write_text("# test list\n" + "\n".join(lines) + "\n")


def _add(server: ServerUnderTest, address: str, port: int, device_type: str, *extra: str) -> int:
    out = _cli(
        server,
        "add",
        address,
        "--port",
        str(port),
        "--type",
        device_type,
        "--authorised-by",
        "Wang Wei",
        "--authorisation",
        "School-owned device, checks approved by the IT office (ticket 42)",
        *extra,
    ).stdout
    return int(out.split()[1])


def _devices(server: ServerUnderTest, token: str) -> dict[int, dict[str, Any]]:
    answer = server.api(token, "GET", "/api/v1/devices")
    assert answer.status == 200, answer.body
    return {row["id"]: row for row in answer.json()["devices"]}


def _alerts(server: ServerUnderTest, token: str) -> list[dict[str, Any]]:
    answer = server.api(token, "GET", "/api/v1/alerts")
    assert answer.status == 200, answer.body
    return list(answer.json()["alerts"])


def test_device_checks_end_to_end(
    database_url: str, tmp_path: Path, sshd: Sshd, data_folder_templates: object
) -> None:
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    lists = tmp_path / "lists"
    _lists(lists, sshd)
    server.set_config(
        workers=2,
        device_attempt_interval_ms=200,
        device_max_attempts=MAX_ATTEMPTS,
        device_connect_timeout_seconds=5,
        device_sweep_seconds=1,
        device_credentials_dir=str(lists),
    )
    org_key = _cli(server, "key").stdout.strip()
    assert org_key.startswith("ssh-ed25519 ")
    assert (server.data / "device-ssh.key").stat().st_mode & 0o777 == 0o600
    sshd.add_account("default", VENDOR_DEFAULT)
    sshd.add_account("strong", STRONG)
    sshd.add_account("keyonly", STRONG + "k", password_login=False)
    sshd.add_account("linux", STRONG + "l", authorized_key=org_key)
    sshd.start()
    proxy = ResettingProxy(sshd.port, allowed=2)  # asks methods, one attempt, then resets
    try:
        router = _add(server, "127.0.0.1", sshd.port, "router")
        switch = _add(server, "127.0.0.2", sshd.port, "switch")
        ap = _add(server, "127.0.0.3", sshd.port, "ap")
        linux = _add(server, "127.0.0.4", sshd.port, "linux", "--key-user", sshd.user("linux"))
        nas = _add(server, "127.0.0.1", proxy.port, "nas", "--label", "locked nas")

        checked = _cli(server, "check", "--now")
    finally:
        proxy.close()
    output = checked.stdout + checked.stderr
    assert "default credential" in output or "vendor-default password" in output
    assert f"user {sshd.user('default')}" in output
    assert VENDOR_DEFAULT not in output
    assert "5 device(s) checked, 1 accept a vendor-default credential" in output

    # sshd's own log: what was really tried.
    assert sshd.password_attempts(sshd.user("default")) == 2  # stopped at the first success
    assert sshd.password_attempts(sshd.user("strong")) == MAX_ATTEMPTS + 1  # switch 3, nas 1
    assert sshd.password_attempts(sshd.user("keyonly")) == 0  # public key only: none tried
    assert sshd.password_attempts(sshd.user("linux")) == 1

    server.start()
    try:
        admin = server.api_token("admin")
        run_cli("server", "user", "add", "audit1", "--role", "auditor", "--data", str(server.data))
        run_cli("server", "user", "add", "oper1", "--role", "operator", "--data", str(server.data))
        auditor = server.api_token("audit1")
        operator = server.api_token("oper1")

        devices = _devices(server, auditor)
        assert devices[router]["last_outcome"] == "default_credential"
        assert devices[router]["default_credential_user"] == sshd.user("default")
        assert devices[router]["authorised_by"] == "Wang Wei"
        assert devices[switch]["last_outcome"] == "no_default"
        assert devices[switch]["last_attempts"] == MAX_ATTEMPTS
        assert "1 more not tried" in devices[switch]["last_message"]
        assert devices[ap]["last_outcome"] == "no_password_auth"
        assert devices[ap]["last_attempts"] == 0
        assert devices[nas]["last_outcome"] == "lockout"
        assert devices[nas]["last_attempts"] == 1
        assert devices[linux]["last_outcome"] == "no_default"
        assert devices[linux]["org_key_accepted"] is True
        assert devices[router]["org_key_accepted"] is False
        assert VENDOR_DEFAULT not in server.api(auditor, "GET", "/api/v1/devices").body.decode()

        alerts = [a for a in _alerts(server, auditor) if a["kind"] == "default_credential"]
        assert len(alerts) == 1, alerts
        assert alerts[0]["severity"] == "critical"
        assert alerts[0]["status"] == "open"
        assert alerts[0]["host"]["id"] == devices[router]["host_id"]
        assert alerts[0]["check_id"] == "device.default_credential"
        assert not [
            a
            for a in _alerts(server, auditor)
            if a["kind"] == "check_failed" and a["check_id"] == "device.default_credential"
        ]

        # The password: admins only, each view recorded.
        assert server.api(auditor, "GET", f"/api/v1/devices/{router}/credential").status == 403
        assert server.api(operator, "GET", f"/api/v1/devices/{router}/credential").status == 403
        assert server.api(admin, "GET", f"/api/v1/devices/{switch}/credential").status == 404
        shown = server.api(admin, "GET", f"/api/v1/devices/{router}/credential")
        assert shown.status == 200
        assert shown.json()["user"] == sshd.user("default")
        assert shown.json()["password"] == VENDOR_DEFAULT
        assert shown.headers.get("Cache-Control") == "no-store"

        # The Linux device's collectors ran over SSH: results and inventory like an agent's.
        host = devices[linux]["host_id"]
        answer = server.api(auditor, "GET", f"/api/v1/hosts/{host}/results")
        assert answer.status == 200
        results = {r["check_id"]: r for r in answer.json()["results"]}
        assert results["device.default_credential"]["status"] == "pass"
        account_checks = [c for c in results if c.startswith("accounts.")]
        assert account_checks, sorted(results)
        inventory = answer.json()["inventory"]["data"]
        assert inventory["device"]["address"] == "127.0.0.4"
        assert inventory["os"]  # /etc/os-release, read over SFTP
        hosts = server.api(auditor, "GET", "/api/v1/hosts").json()["hosts"]
        assert {h["platform"] for h in hosts if h["id"] == host} == {"device"}

        # Scheduled checks: an operator makes the switch due; the server's two processes check
        # it exactly once (sshd's log shows one more round of attempts, not two).
        before = devices[switch]["last_checked_at"]
        assert server.api(auditor, "POST", f"/api/v1/devices/{switch}/check").status == 403
        assert server.api(operator, "POST", f"/api/v1/devices/{switch}/check").status == 202
        wait_for(
            "the scheduled check",
            lambda: _devices(server, admin)[switch]["last_checked_at"] != before,
        )
        # Room for a (wrong) second run by the other process to show in sshd's log.
        time.sleep(3)
        assert sshd.password_attempts(sshd.user("strong")) == 2 * MAX_ATTEMPTS + 1

        # The owner changes the password: the next check resolves the alert.
        change_password(sshd.user("default"), STRONG)
        due = _cli(server, "check").stdout  # every device due for the running server
        assert "5 device(s) due" in due
        wait_for(
            "the alert to resolve",
            lambda: all(
                a["status"] == "resolved"
                for a in _alerts(server, admin)
                if a["kind"] == "default_credential"
            ),
        )
        assert _devices(server, admin)[router]["default_credential_user"] is None
        assert server.api(admin, "GET", f"/api/v1/devices/{router}/credential").status == 404
    finally:
        server.stop()

    # The weekly report (POLICY.md A4) lists the devices and their results like hosts.
    year, week, _day = datetime.datetime.now().astimezone().isocalendar()
    report = tmp_path / "weekly.csv"
    run_cli(
        "server", "report", "weekly", "--data", str(server.data),
        "--week", f"{year}-W{week:02d}", "--format", "csv", "--out", str(report),
    )  # fmt: skip
    text = csv_text(report.read_bytes())
    assert "device.default_credential" in text
    assert "router 127.0.0.1" in text
    assert VENDOR_DEFAULT not in text

    # Nowhere in the logs: the server's, sshd's, the operation log's entries, alert messages.
    assert VENDOR_DEFAULT not in server.log()
    assert VENDOR_DEFAULT not in sshd.log()
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            entries = connection.execute(
                sqlalchemy.text("SELECT action, actor, target, reason, details FROM oplog_entries")
            ).all()
            messages = connection.execute(sqlalchemy.text("SELECT message FROM alerts")).all()
            sealed = connection.execute(
                sqlalchemy.text("SELECT credential_secret FROM devices")
            ).all()
    finally:
        engine.dispose()
    assert VENDOR_DEFAULT not in repr(entries)
    assert VENDOR_DEFAULT not in repr(messages)
    assert VENDOR_DEFAULT not in repr(sealed)
    actions = [entry.action for entry in entries]
    assert actions.count("device.add") == 5
    assert "device.check.now" in actions
    assert "device.credential.view" in actions
    added = next(entry for entry in entries if entry.action == "device.add")
    assert "Wang Wei" in added.details and "ticket 42" in added.details


def test_add_refuses_bad_input(
    database_url: str, tmp_path: Path, data_folder_templates: object
) -> None:
    server = ServerUnderTest(tmp_path / "server", database_url=database_url)
    server.init_copy(data_folder_templates)
    ok = ["--authorised-by", "Li Na", "--authorisation", "owned by the school, approved"]
    bad = [
        (["not an address!", "--type", "router", *ok], "address"),
        (
            ["10.0.0.1", "--type", "router", "--authorised-by", "Li Na", "--authorisation", "ok"],
            "authorisation",
        ),
        (["10.0.0.1", "--type", "router", "--key-user", "bad user", *ok], "key_user"),
    ]
    for words, field in bad:
        done = _cli(server, "add", *words, check=False)
        assert done.returncode == 1, done
        assert field in done.stderr
    # argparse refuses a missing authorisation, an unknown type and a bad port (usage: 2).
    assert _cli(server, "add", "10.0.0.1", "--type", "router", check=False).returncode == 2
    assert _cli(server, "add", "10.0.0.1", "--type", "toaster", *ok, check=False).returncode == 2
    done = _cli(server, "add", "10.0.0.1", "--port", "70000", "--type", "ap", *ok, check=False)
    assert done.returncode == 2
    assert "no devices" in _cli(server, "list").stdout
    _cli(server, "add", "10.0.0.1", "--type", "ap", *ok)
    again = _cli(server, "add", "10.0.0.1", "--type", "ap", *ok, check=False)
    assert again.returncode == 1 and "already device" in again.stderr
    assert "10.0.0.1:22" in _cli(server, "list").stdout
    assert _cli(server, "remove", "99", check=False).returncode == 1
    assert "removed" in _cli(server, "remove", "1").stdout
    assert "no devices" in _cli(server, "list").stdout
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            actions = (
                connection.execute(sqlalchemy.text("SELECT action FROM oplog_entries ORDER BY seq"))
                .scalars()
                .all()
            )
            agents = connection.execute(sqlalchemy.text("SELECT count(*) FROM agents")).scalar()
    finally:
        engine.dispose()
    assert actions.count("device.add") == 1 and actions.count("device.remove") == 1
    assert agents == 0
