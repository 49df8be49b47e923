"""The device package's pure parts: the built-in credential lists, input validation, the sealed
password, and the prober's lockout signs against a real sshd whose banner changes mid-check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server.devices.defaults import (
    BUILT_IN,
    Credential,
    CredentialListError,
    credentials_for,
    parse_list,
)
from server.devices.models import DEVICE_TYPES
from server.devices.prober import ProbeSettings, _Pacer, probe
from server.devices.store import DeviceError, seal, unseal, validate
from tests.devices.sshd import Sshd


def test_every_type_has_a_short_real_list() -> None:
    for device_type in DEVICE_TYPES:
        found = credentials_for(device_type)
        assert 1 <= len(found) <= 10, device_type  # within the default per-check limit
        assert "#" in (BUILT_IN / f"{device_type}.txt").read_text()  # sources cited
    pairs = {(c.user, c.password) for t in DEVICE_TYPES for c in credentials_for(t)}
    for well_known in [("admin", "admin"), ("ubnt", "ubnt"), ("admin", "password"), ("root", "")]:
        assert well_known in pairs


def test_list_parsing_and_the_hidden_password() -> None:
    parsed = parse_list("# c\nroot:\nadmin:a:b\n", "x")
    assert [(c.user, c.password) for c in parsed] == [("root", ""), ("admin", "a:b")]
    for bad in ("", "# only comments\n", "nocolon\n", ":pw\n"):
        with pytest.raises(CredentialListError):
            parse_list(bad, "x")
    with pytest.raises(CredentialListError):
        credentials_for("toaster")
    assert "secret" not in repr(Credential("admin", "secret"))


def test_validation() -> None:
    ok = {"authorised_by": "Li Na", "authorisation": "owned and approved, ticket 1"}
    assert validate("192.168.1.1", 22, "router", **ok).address == "192.168.1.1"
    assert validate(" NAS-1.School.lan ", 2222, "nas", **ok).address == "nas-1.school.lan"
    assert validate("::1", 22, "ap", **ok).label == "ap ::1"
    bad = [
        ("", 22, "router", ok),
        ("a b", 22, "router", ok),
        ("1.2.3", 22, "router", ok),
        ("10.0.0.1", 0, "router", ok),
        ("10.0.0.1", True, "router", ok),
        ("10.0.0.1", 22, "printer", ok),
        ("10.0.0.1", 22, "router", {**ok, "authorised_by": " "}),
        ("10.0.0.1", 22, "router", {**ok, "authorisation": "short"}),
        ("10.0.0.1", 22, "router", {**ok, "authorised_by": "x\ny"}),
    ]
    for address, port, device_type, extra in bad:
        with pytest.raises(DeviceError):
            validate(address, port, device_type, **extra)


def test_sealed_password(tmp_path: Path) -> None:
    (tmp_path / "secret-key").write_bytes(b"k" * 32)
    sealed = seal(tmp_path, "Admin@huawei")
    assert "Admin@huawei" not in sealed
    assert unseal(tmp_path, sealed) == "Admin@huawei"
    (tmp_path / "secret-key").write_bytes(b"other" * 8)
    assert unseal(tmp_path, sealed) is None


@pytest.fixture
def bannered() -> Iterator[Sshd]:
    daemon = Sshd.make()
    try:
        yield daemon
    finally:
        daemon.stop()


def test_a_changed_banner_stops_the_prober(bannered: Sshd) -> None:
    """sshd reads its Banner file for each connection: changing it after the first attempt is
    what a device that starts warning about lockout looks like."""
    banner = bannered.folder / "banner"
    banner.write_text("Authorised use only\n")
    bannered.extra_config.append(f"Banner {banner}")
    user = bannered.add_account("strong", "k7#Rq-strong-2026-device!").name
    bannered.start()

    class ChangingBanner(_Pacer):
        def wait(self) -> None:
            if self.last is not None:
                banner.write_text("Too many failed logins: locked for 30 minutes\n")
            super().wait()

    tries = [Credential(user, word) for word in ("admin", "password", "1234", "ubnt")]
    settings = ProbeSettings(attempt_interval=0.05, max_attempts=10, timeout=5)
    outcome = probe("127.0.0.1", bannered.port, tries, settings, ChangingBanner(0.05))
    assert outcome.outcome == "lockout"
    assert outcome.attempts == 1
    assert "too many" in outcome.message
    assert bannered.password_attempts(user) == 1


def test_keyboard_interactive_only_devices_are_probed_through_prompts(bannered: Sshd) -> None:
    """Many devices offer password login only as keyboard-interactive prompts (sshd with PAM,
    PasswordAuthentication no): the prober answers the prompt with the password."""
    bannered.use_pam = True
    weak = bannered.add_account("kbdweak", "ubnt").name
    strong = bannered.add_account("kbdstrong", "k7#Rq-strong-2026-device!").name
    bannered.start()
    settings = ProbeSettings(attempt_interval=0.05, max_attempts=10, timeout=5)
    tries = [Credential(strong, "ubnt"), Credential(weak, "admin"), Credential(weak, "ubnt")]
    outcome = probe("127.0.0.1", bannered.port, tries, settings)
    assert outcome.methods[weak] == ["publickey", "keyboard-interactive"]
    assert outcome.outcome == "default_credential"
    assert outcome.found == Credential(weak, "ubnt")
    assert outcome.attempts == 3
