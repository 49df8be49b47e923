"""``xunjian server token create | user add | apitoken create`` print what a person needs next,
and the secrets they print work and are stored only as hashes."""

from __future__ import annotations

import shlex

import pytest
from sqlalchemy import select

from server.config import DataPaths
from server.security import token_digest, verify_password
from server.store.models import ApiToken, EnrollmentToken, Group, User
from tests.server.conftest import Server, SignedAgent, run_xunjian
from xunjian.cli import build_parser
from xunjian.core.wire import certificate_sha256


def enroll_words(output: str) -> list[str]:
    for line in output.splitlines():
        words = shlex.split(line)
        if words[:3] == ["xunjian", "agent", "enroll"]:
            return words[3:]
    raise AssertionError(f"no enroll line in {output!r}")


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def test_token_create_prints_a_working_enroll_line(server: Server) -> None:
    status, out, err = run_xunjian(
        "server",
        "token",
        "create",
        "--data",
        str(server.data),
        "--uses",
        "2",
        "--expires",
        "30m",
        "--group",
        "lab",
    )
    assert status == 0, err
    words = enroll_words(out)
    assert option(words, "--server") == "https://127.0.0.1:8443"
    ca_pem = DataPaths(server.data).ca_cert.read_bytes()
    assert option(words, "--ca-sha256") == certificate_sha256(ca_pem)
    token = option(words, "--token")
    assert token.startswith("xjenr_") and len(token) >= 6 + 43  # tag + 32 random bytes
    # The line parses as the agent's own command line would parse it when pasted.
    parsed = build_parser().parse_args(["agent", "enroll", *words])
    assert parsed.token == token
    with server.state.sessions() as session:
        stored = session.scalars(select(EnrollmentToken)).one()
        assert stored.token_sha256 == token_digest(token)
        assert stored.uses_left == 2
        assert session.get(Group, stored.group_id).name == "lab"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    answer = SignedAgent(server, Ed25519PrivateKey.generate(), "").enroll(token)
    assert answer.status_code == 201 and answer.get_json()["group"] == "lab"


def test_token_create_uses_a_given_server_url(server: Server) -> None:
    status, out, _err = run_xunjian(
        "server",
        "token",
        "create",
        "--data",
        str(server.data),
        "--server-url",
        "https://10.0.0.5:8443",
    )
    assert status == 0
    assert option(enroll_words(out), "--server") == "https://10.0.0.5:8443"


@pytest.mark.parametrize("expires", ["0h", "10", "1w", "400d", "-1h", "1.5h"])
def test_token_create_refuses_bad_lifetimes(server: Server, expires: str) -> None:
    status, out, err = run_xunjian(
        "server", "token", "create", "--data", str(server.data), f"--expires={expires}"
    )
    assert status == 1 and "--expires" in err and out == ""


def test_user_add_prints_a_one_time_password(server: Server) -> None:
    status, out, err = run_xunjian(
        "server", "user", "add", "olga", "--role", "operator", "--data", str(server.data)
    )
    assert status == 0, err
    password = out.strip().splitlines()[-1].split()[-1]
    with server.state.sessions() as session:
        user = session.scalars(select(User).where(User.name == "olga")).one()
    assert user.role == "operator" and user.must_change_password
    assert verify_password(user.password_hash, password)
    again = run_xunjian(
        "server", "user", "add", "olga", "--role", "admin", "--data", str(server.data)
    )
    assert again[0] == 1 and "already exists" in again[2]


def test_apitoken_create_prints_a_token_that_works(server: Server) -> None:
    status, out, err = run_xunjian(
        "server", "apitoken", "create", "--data", str(server.data), "--user", "admin"
    )
    assert status == 0, err
    token = out.strip().splitlines()[-1].split()[-1]
    with server.state.sessions() as session:
        stored = session.scalars(select(ApiToken)).one()
    assert stored.token_sha256 == token_digest(token) and token not in stored.prefix * 2
    answer = server.client().get("/api/v1/hosts", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200


def test_apitoken_for_unknown_user_is_refused(server: Server) -> None:
    status, _out, err = run_xunjian(
        "server", "apitoken", "create", "--data", str(server.data), "--user", "ghost"
    )
    assert status == 1 and "ghost" in err


def test_commands_on_a_missing_data_folder_explain(tmp_path: object) -> None:
    status, _out, err = run_xunjian("server", "token", "create", "--data", f"{tmp_path}/none")
    assert status == 1 and "server init" in err


def test_lifetimes_in_seconds_minutes_hours_days() -> None:
    from server.settings.tokens import parse_lifetime

    assert parse_lifetime("90s").total_seconds() == 90
    assert parse_lifetime("30m").total_seconds() == 1800
    assert parse_lifetime("24h").total_seconds() == 86400
    assert parse_lifetime("7d").days == 7


def test_tokens_are_tagged_and_never_look_like_an_option() -> None:
    from server.security import new_token

    for kind, tag in (("enroll", "xjenr_"), ("api", "xjapi_")):
        tokens = {new_token(kind) for _ in range(500)}
        assert len(tokens) == 500
        assert all(token.startswith(tag) for token in tokens)
