"""The state folder: modes, atomic writes, and the typed agent.json."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent import state as state_module
from agent.state import AgentConfig, AgentState, StateError, atomic_write

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _config(**overrides: object) -> AgentConfig:
    values: dict[str, object] = {
        "server_url": "https://127.0.0.1:8443",
        "agent_id": "0b7c6a55-2f1e-4c55-9a52-0f3f1b2f4e11",
        "group": "default",
        "ca_sha256": "ab" * 32,
        "enrolled_at": "2026-11-23T10:00:00Z",
    }
    values.update(overrides)
    return AgentConfig.from_dict(values)


@pytest.fixture
def open_umask() -> object:
    # The most permissive umask a careless service manager could hand us.
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_identity_files_are_private_even_with_an_open_umask(
    tmp_path: Path, open_umask: object
) -> None:
    state = AgentState(tmp_path / "nested" / "state")
    state.write_identity(_config(), Ed25519PrivateKey.generate(), b"-----BEGIN CERTIFICATE-----\n")
    assert _mode(state.directory) == 0o700
    assert _mode(state.key_path) == 0o600
    assert _mode(state.config_path) == 0o600
    assert _mode(state.ca_path) == 0o600
    assert state.is_enrolled()


def test_an_existing_open_state_folder_is_tightened(tmp_path: Path) -> None:
    directory = tmp_path / "state"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    state_module.ensure_private_directory(directory)
    assert _mode(directory) == 0o700


def test_the_key_is_never_readable_by_others_while_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, open_umask: object
) -> None:
    seen: list[tuple[str, int]] = []
    real_replace = os.replace

    def spy(source: str | Path, target: str | Path) -> None:
        # The temporary file, just before it takes the key's name: already 0600 and complete.
        seen.append((Path(target).name, _mode(Path(source))))
        real_replace(source, target)

    monkeypatch.setattr(state_module.os, "replace", spy)
    state = AgentState(tmp_path / "state")
    state.write_identity(_config(), Ed25519PrivateKey.generate(), b"ca")
    assert ("key.pem", 0o600) in seen
    assert all(mode == 0o600 for _, mode in seen), seen


def test_atomic_write_replaces_whole_files_and_leaves_no_temporaries(tmp_path: Path) -> None:
    target = tmp_path / "status.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "agent.json"
    atomic_write(target, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_module.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["agent.json"]


def test_identity_round_trip(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state")
    key = Ed25519PrivateKey.generate()
    state.write_identity(_config(), key, b"ca-pem")
    loaded = state.load_config()
    assert loaded.agent_id == "0b7c6a55-2f1e-4c55-9a52-0f3f1b2f4e11"
    assert loaded.allowed_commands == ["scan_now", "evidence"]
    assert state.load_key().public_key() == key.public_key()
    assert state.load_ca_pem() == b"ca-pem"


def test_not_enrolled_is_a_clear_error(tmp_path: Path) -> None:
    state = AgentState(tmp_path / "state")
    assert not state.is_enrolled()
    assert not state.has_identity_files()
    with pytest.raises(StateError, match="not enrolled"):
        state.load_config()


@pytest.mark.parametrize(
    "overrides",
    [
        {"spool_max_rows": 0},
        {"spool_max_bytes": "big"},
        {"start_delay_max_seconds": -1},
        {"scan_interval_seconds": 0},
        {"allowed_commands": "scan_now"},
        {"request_timeout_seconds": True},
        {"agent_id": ""},
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(StateError):
        _config(**overrides)


def test_unknown_configuration_keys_are_ignored_and_tuning_is_kept() -> None:
    config = _config(future_key=1, scan_interval_seconds=2, start_delay_max_seconds=0)
    assert config.scan_interval_seconds == 2.0
    assert config.start_delay_max_seconds == 0.0


def test_status_updates_merge(tmp_path: Path) -> None:
    state = AgentState(tmp_path)
    state.update_status(last_report_at="a")
    state.record_error("boom")
    status = state.load_status()
    assert status["last_report_at"] == "a"
    assert status["last_error"] == "boom"
    assert _mode(state.status_path) == 0o600


def test_a_damaged_state_file_is_reported_not_trusted(tmp_path: Path) -> None:
    state = AgentState(tmp_path)
    state.config_path.write_text("[1, 2]")
    with pytest.raises(StateError, match="JSON object"):
        state.load_config()
    state.key_path.write_text("not a key")
    with pytest.raises(StateError, match="damaged"):
        state.load_key()


def test_the_key_reader_agrees_with_cryptography_and_refuses_other_key_types(
    tmp_path: Path,
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    state = AgentState(tmp_path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    state.key_path.write_bytes(pem)
    loaded = state.load_key()
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert loaded.public_key().public_bytes(*raw) == key.public_key().public_bytes(*raw)
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    state.key_path.write_bytes(other)
    with pytest.raises(StateError, match="not an Ed25519 key"):
        state.load_key()
