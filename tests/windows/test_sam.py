"""Local accounts, the password policy and weak passwords from SAM + SYSTEM: first on the real
SAM (whose SYSTEM is not here, so its hashes must stay closed), then on planted pairs in both
encryption forms, whose passwords we chose."""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from checks.collectors.linux.weak_passwords import organisation_candidates
from checks.collectors.windows.hives import Hive
from checks.collectors.windows.md4 import md4, nt_hash
from checks.collectors.windows.sam import (
    ACB_DISABLED,
    ACB_NORMAL,
    BootKeyMismatch,
    SamError,
    boot_key,
    find_weak_nt_passwords,
    open_pair,
    read_accounts,
    read_password_policy,
)
from tests.windows.samforge import (
    BUILTIN_ADMINISTRATOR,
    BUILTIN_GUEST,
    PlantedAccount,
    PlantedPolicy,
    build_sam,
    build_system,
)

RFC_1320 = {
    b"": "31d6cfe0d16ae931b73c59d7e0c089c0",
    b"a": "bde52cb31de33e46245e05fbdbd6fb24",
    b"abc": "a448017aaf21d8525fc10ae87aa6729d",
    b"message digest": "d9130a8164549fe818874806e1c7014b",
    b"abcdefghijklmnopqrstuvwxyz": "d79e1c308aa5bbcdeea8ed63df412da9",
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789": (
        "043f8582f241db351ce627e153e7f0e4"
    ),
    b"1234567890" * 8: "e33b4ddc9c38f2199c3e7b164fcc0536",
}


@pytest.mark.parametrize(("message", "digest"), RFC_1320.items())
def test_md4_answers_rfc_1320(message: bytes, digest: str) -> None:
    assert md4(message).hex() == digest


def test_the_nt_hash_of_a_known_password() -> None:
    assert nt_hash("123456").hex() == "32ed87bdb5fdc5e9cba88547376818d4"
    assert nt_hash("").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"


def test_the_real_sams_accounts(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("SAM")) as sam:
        accounts = {account.rid: account for account in read_accounts(sam)}
        policy = read_password_policy(sam)
    assert sorted(accounts) == [500, 501, 1000]
    administrator, guest, preston = accounts[500], accounts[501], accounts[1000]
    assert (administrator.name, administrator.disabled) == ("Administrator", True)
    assert administrator.password_never_expires and administrator.has_password
    assert (guest.name, guest.disabled, guest.password_not_required) == ("Guest", True, True)
    assert not guest.has_password
    assert preston.name == "Preston" and not preston.disabled and preston.has_password
    assert preston.last_logon is not None
    assert preston.last_logon.date() == datetime.date(2014, 9, 30)
    assert policy.max_age_days is None and policy.min_length == 0


def test_the_real_system_hives_boot_key(real_hive: Callable[[str], Path]) -> None:
    with Hive(real_hive("SYSTEM_WIN_10_1709")) as system:
        key = boot_key(system)
    # The four class names (27b1cc92, 7f9b24ee, 9e3626b3, 2383eba6) permuted.
    assert key.hex() == "7f832326ee9bb1b39eeb3627cc2492a6"


def test_a_sam_with_another_pcs_system_stays_closed(real_hive: Callable[[str], Path]) -> None:
    with (
        Hive(real_hive("SAM")) as sam,
        Hive(real_hive("SYSTEM_WIN_10_1709")) as system,
        pytest.raises(BootKeyMismatch, match="not from the same PC"),
    ):
        find_weak_nt_passwords(sam, system)


def test_a_sam_without_its_system_says_so(real_hive: Callable[[str], Path], tmp_path: Path) -> None:
    with pytest.raises(SamError, match="no such hive file"):
        open_pair(str(real_hive("SAM")), str(tmp_path / "SYSTEM"))


PEOPLE = [
    BUILTIN_ADMINISTRATOR,
    BUILTIN_GUEST,
    PlantedAccount(1001, "teacher", "123456"),
    PlantedAccount(1002, "jiaowu", "jiaowu123"),  # the account's name with 123
    PlantedAccount(1003, "office", "Ge7#kLq!2pZx"),
    PlantedAccount(1004, "lab", "yizhong2024"),  # an organisation word
    PlantedAccount(1005, "oldadmin", "P@ssw0rd", ACB_NORMAL | ACB_DISABLED),
    PlantedAccount(1006, "kiosk", None),
]


@pytest.mark.parametrize("revision", [1, 2], ids=["rc4-windows7", "aes-windows10"])
def test_weak_passwords_are_found_by_their_nt_hash(tmp_path: Path, revision: int) -> None:
    key = os.urandom(16)
    build_system(tmp_path / "SYSTEM", key)
    build_sam(
        tmp_path / "SAM",
        key,
        PEOPLE,
        revision=revision,
        policy=PlantedPolicy(min_length=6, max_age_days=90, lockout_threshold=5),
    )
    sam, system = open_pair(str(tmp_path / "SAM"), str(tmp_path / "SYSTEM"))
    with sam, system:
        weak = find_weak_nt_passwords(sam, system, organisation_candidates(["YiZhong"], 2025))
        accounts = {account.name: account for account in read_accounts(sam)}
        policy = read_password_policy(sam)
    found = {match.account: match.kind for match in weak.matches}
    assert found == {
        "teacher": "common weak",
        "jiaowu": "same as the account name",
        "lab": "organisation word",
        "oldadmin": "common weak",  # disabled, but enabling it brings the password back
    }
    assert sorted(weak.accounts_tested) == ["jiaowu", "lab", "office", "oldadmin", "teacher"]
    assert not accounts["kiosk"].has_password and accounts["teacher"].has_password
    assert accounts["oldadmin"].disabled and not accounts["teacher"].disabled
    assert (policy.min_length, policy.max_age_days, policy.lockout_threshold) == (6, 90, 5)
    # Hashes never leave the function: nothing hash-like in what it returns.
    assert not re.search(r"[0-9a-f]{32}", repr(weak), re.IGNORECASE)


@pytest.mark.parametrize("revision", [1, 2], ids=["rc4-windows7", "aes-windows10"])
def test_a_planted_sam_with_the_wrong_system_stays_closed(tmp_path: Path, revision: int) -> None:
    build_system(tmp_path / "SYSTEM", os.urandom(16))
    build_sam(tmp_path / "SAM", os.urandom(16), PEOPLE, revision=revision)
    sam, system = open_pair(str(tmp_path / "SAM"), str(tmp_path / "SYSTEM"))
    with sam, system, pytest.raises(BootKeyMismatch):
        find_weak_nt_passwords(sam, system)
