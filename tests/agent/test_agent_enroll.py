"""`xunjian agent enroll` against a real HTTPS server on 127.0.0.1: the CA pin, the verified
enrollment, and every refusal leaving nothing behind."""

from __future__ import annotations

import json
import socket
import stat
from pathlib import Path

import pytest

from agent.state import AgentState
from tests.agent.agent_testkit import LoopbackServer, ScriptedApi, ThrowawayCA, make_ca
from xunjian.cli import main
from xunjian.core.wire import certificate_sha256, public_key_to_text


def _enroll(state: Path, url: str, token: str, pin: str) -> int:
    return main(
        ["agent", "enroll", "--state", str(state), "--server", url, "--token", token,
         "--ca-sha256", pin]
    )  # fmt: skip


def test_enrollment_pins_the_ca_and_stores_a_private_identity(
    server: LoopbackServer, api: ScriptedApi, ca: ThrowawayCA, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    state_dir = tmp_path / "state"
    # Upper case with colons, as people copy fingerprints from other tools.
    pin = certificate_sha256(ca.cert_pem)
    typed = ":".join(pin[i : i + 2] for i in range(0, 64, 2)).upper()
    assert _enroll(state_dir, server.url, "tok-123", typed) == 0
    assert api.agent_id in capsys.readouterr().out

    state = AgentState(state_dir)
    config = json.loads(state.config_path.read_text())
    assert config["agent_id"] == api.agent_id
    assert config["group"] == "default"
    assert config["server_url"] == server.url
    assert config["ca_sha256"] == pin
    assert config["allowed_commands"] == ["scan_now", "evidence"]
    assert config["enrolled_at"].endswith("Z")
    assert certificate_sha256(state.ca_path.read_bytes()) == pin
    # The server got the public half of the key that stays here.
    assert public_key_to_text(state.load_key().public_key()) == api.public_key
    assert stat.S_IMODE(state.key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    (enroll_request,) = server.requests_to("/api/v1/agent/enroll")
    body = enroll_request.json()
    assert set(body) == {"token", "public_key", "hostname", "platform", "os", "agent_version"}
    assert body["platform"] == "linux"


def test_a_ca_that_does_not_match_the_pin_is_refused_and_nothing_is_written(
    server: LoopbackServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    other_pin = certificate_sha256(make_ca("an impostor").cert_pem)
    assert _enroll(state_dir, server.url, "tok-123", other_pin) == 1
    err = capsys.readouterr().err
    assert "does not match --ca-sha256" in err
    assert other_pin in err
    assert not state_dir.exists()
    # The token never left this machine for an unverified server.
    assert server.requests_to("/api/v1/agent/enroll") == []


def test_a_refused_token_is_explained_and_nothing_is_written(
    server: LoopbackServer, ca: ThrowawayCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    assert _enroll(state_dir, server.url, "wrong", certificate_sha256(ca.cert_pem)) == 1
    err = capsys.readouterr().err
    assert "refused the enrollment token" in err
    assert "expired or used up" in err
    assert not state_dir.exists()


def test_re_enrolling_over_an_identity_is_refused(
    server: LoopbackServer, api: ScriptedApi, ca: ThrowawayCA, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    state_dir = tmp_path / "state"
    pin = certificate_sha256(ca.cert_pem)
    assert _enroll(state_dir, server.url, "tok-123", pin) == 0
    key_before = (state_dir / "key.pem").read_bytes()
    capsys.readouterr()
    requests_before = len(server.received)
    assert _enroll(state_dir, server.url, "tok-123", pin) == 1
    err = capsys.readouterr().err
    assert "already enrolled" in err
    assert api.agent_id in err
    assert "remove" in err
    assert (state_dir / "key.pem").read_bytes() == key_before
    assert len(server.received) == requests_before


def test_a_leftover_key_alone_also_blocks_enrollment(
    server: LoopbackServer, ca: ThrowawayCA, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "key.pem").write_text("old key")
    assert _enroll(state_dir, server.url, "tok-123", certificate_sha256(ca.cert_pem)) == 1
    assert "already enrolled" in capsys.readouterr().err
    assert (state_dir / "key.pem").read_text() == "old key"


def test_a_server_certificate_for_another_host_is_refused_after_the_pin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong_host = make_ca(server_names=("server.example",))
    api = ScriptedApi(wrong_host.cert_pem)
    running = LoopbackServer(wrong_host, tmp_path, route=api).start()
    try:
        pin = certificate_sha256(wrong_host.cert_pem)
        assert _enroll(tmp_path / "state", running.url, "tok-123", pin) == 1
    finally:
        running.stop()
    assert "does not verify against the pinned CA" in capsys.readouterr().err
    assert running.requests_to("/api/v1/agent/enroll") == []
    assert not (tmp_path / "state").exists()


def test_a_leaf_certificate_is_not_accepted_as_the_ca(
    tmp_path: Path, ca: ThrowawayCA, capsys: pytest.CaptureFixture[str]
) -> None:
    api = ScriptedApi(ca.server_cert_pem)  # a server handing out its own leaf as "the CA"
    running = LoopbackServer(ca, tmp_path, route=api).start()
    try:
        pin = certificate_sha256(ca.server_cert_pem)
        assert _enroll(tmp_path / "state", running.url, "tok-123", pin) == 1
    finally:
        running.stop()
    assert "not a CA certificate" in capsys.readouterr().err


def test_an_unreachable_server_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert _enroll(tmp_path / "state", f"https://127.0.0.1:{port}", "t", "0" * 64) == 1
    assert "cannot reach the server" in capsys.readouterr().err
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("url", "token", "pin", "message"),
    [
        ("http://127.0.0.1:1", "t", "0" * 64, "plain http"),
        ("file:///etc/passwd", "t", "0" * 64, "https"),
        ("https://127.0.0.1:1", "t", "abc", "64 hex digits"),
        ("https://127.0.0.1:1", "t", "g" * 64, "64 hex digits"),
        ("https://127.0.0.1:1", "two words", "0" * 64, "--token"),
        ("https://127.0.0.1:1", "x" * 201, "0" * 64, "--token"),
    ],
)
def test_bad_input_is_refused_before_any_traffic(
    url: str, token: str, pin: str, message: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert _enroll(tmp_path / "state", url, token, pin) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "state").exists()
