"""``xunjian server init``: a private data folder, the CA, a migrated database, a first admin
with a random password, and a refusal to initialise twice."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtensionOID
from sqlalchemy import select

from server.config import DataPaths
from server.security import verify_password
from server.store.models import User
from tests.server.conftest import Server, run_xunjian
from xunjian.core.wire import certificate_sha256

# These tests are about `server init` itself: each gets its own, not a copy of a template.
pytestmark = pytest.mark.real_server_init


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_folder_is_private_and_secrets_are_0600(server: Server) -> None:
    paths = DataPaths(server.data)
    assert mode(server.data) == 0o700
    for secret in (
        paths.config,
        paths.secret_key,
        paths.initial_password,
        paths.ca_key,
        paths.server_key,
    ):
        assert mode(secret) == 0o600, secret
    sqlite_file = server.data / "xunjian.sqlite3"
    if sqlite_file.exists():  # only when the run is on the embedded database
        assert mode(sqlite_file) == 0o600


def test_config_holds_the_documented_defaults(server: Server) -> None:
    config = json.loads(DataPaths(server.data).config.read_text())
    assert config["server_url"] == "https://127.0.0.1:8443"
    assert config["max_body_bytes"] == 2 * 1024 * 1024
    assert config["heartbeat_interval_seconds"] == 60
    assert config["scan_interval_seconds"] == 3600
    assert config["freshness_window_seconds"] == 300
    assert config["database_url"]


def test_sqlite_is_the_default_database(tmp_path: Path) -> None:
    data = tmp_path / "d"
    status, _out, err = run_xunjian("server", "init", "--data", str(data))
    assert status == 0, err
    config = json.loads((data / "config.json").read_text())
    assert config["database_url"] == f"sqlite:///{data.resolve() / 'xunjian.sqlite3'}"


def test_first_admin_has_a_random_password_that_must_be_changed(server: Server) -> None:
    with server.state.sessions() as session:
        users = session.scalars(select(User)).all()
    assert [(u.name, u.role, u.must_change_password) for u in users] == [("admin", "admin", True)]
    admin = users[0]
    assert admin.password_hash.startswith("$argon2id$")
    assert verify_password(admin.password_hash, server.admin_password)
    for guess in ("admin", "password", "xunjian", "123456", ""):
        assert not verify_password(admin.password_hash, guess)
    assert len(server.admin_password) >= 16
    assert server.admin_password in server.init_output


def test_two_folders_get_different_passwords_and_cas(tmp_path: Path, server: Server) -> None:
    other = tmp_path / "other"
    status, _out, err = run_xunjian("server", "init", "--data", str(other))
    assert status == 0, err
    assert (other / "initial-admin-password").read_text() != server.admin_password + "\n"
    assert certificate_sha256((other / "ca/ca.pem").read_bytes()) != certificate_sha256(
        (server.data / "ca/ca.pem").read_bytes()
    )


def test_second_init_is_refused_and_changes_nothing(server: Server) -> None:
    paths = DataPaths(server.data)
    before = {p: p.read_bytes() for p in (paths.config, paths.ca_cert, paths.initial_password)}
    status, out, err = run_xunjian("server", "init", "--data", str(server.data))
    assert status == 1
    assert "already initialised" in err
    assert out == ""
    assert {p: p.read_bytes() for p in before} == before


def test_init_refuses_a_folder_with_other_files(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    status, _out, err = run_xunjian("server", "init", "--data", str(tmp_path / "busy"))
    assert status == 1
    assert "not an empty folder" in err


def test_server_certificate_is_issued_by_the_ca_with_the_names(tmp_path: Path) -> None:
    data = tmp_path / "d"
    status, _out, err = run_xunjian(
        "server",
        "init",
        "--data",
        str(data),
        "--hostname",
        "xj.school.example",
        "--hostname",
        "10.1.2.3",
    )
    assert status == 0, err
    paths = DataPaths(data)
    ca = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(paths.server_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    assert dns == {"localhost", "xj.school.example"}
    assert ips == {"127.0.0.1", "::1", "10.1.2.3"}
    assert ca.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca


def test_failed_database_leaves_no_half_made_folder(tmp_path: Path) -> None:
    data = tmp_path / "d"
    status, _out, err = run_xunjian(
        "server",
        "init",
        "--data",
        str(data),
        "--database-url",
        f"sqlite:///{tmp_path}/no/such/folder/x.sqlite3",
    )
    assert status == 1
    assert "cannot prepare the database" in err
    assert not data.exists()
    status, _out, err = run_xunjian("server", "init", "--data", str(data))
    assert status == 0, err


def test_database_that_already_has_users_is_refused(server: Server, tmp_path: Path) -> None:
    config = json.loads(DataPaths(server.data).config.read_text())
    status, _out, err = run_xunjian(
        "server",
        "init",
        "--data",
        str(tmp_path / "second"),
        "--database-url",
        config["database_url"],
    )
    assert status == 1
    assert "already has users" in err
    assert not (tmp_path / "second").exists()


def test_migrations_are_quiet_unless_asked(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 13 item 12: with logging on (as in the server's processes), Alembic's lines
    appear only with ``server run --verbose``."""
    import logging

    from server.cli import _quiet_migrations
    from server.store.engine import make_engine
    from server.store.migrate import upgrade_database

    alembic = logging.getLogger("alembic")
    before = alembic.level
    caplog.set_level(logging.INFO)
    try:
        for verbose, name in ((False, "quiet"), (True, "verbose")):
            caplog.clear()
            engine = make_engine(f"sqlite:///{tmp_path / name}.sqlite3")
            try:
                _quiet_migrations(verbose)
                upgrade_database(engine)
            finally:
                engine.dispose()
            lines = [r for r in caplog.records if r.name.startswith("alembic")]
            assert bool(lines) is verbose, [r.getMessage() for r in lines]
    finally:
        alembic.setLevel(before)
