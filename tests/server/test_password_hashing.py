"""Password hashing: production parameters unless the test suite's switch is on, and hashes made
either way verify either way (server/security.py CHEAP_HASHING_FOR_TESTS)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from server import security


@pytest.fixture
def fresh_hasher() -> Iterator[None]:
    security._hasher.cache_clear()
    yield
    security._hasher.cache_clear()


def test_the_suite_runs_with_cheap_hashing() -> None:
    # tests/conftest.py sets it for this process and every server it starts.
    assert security.cheap_hashing_for_tests()


@pytest.mark.parametrize("value", [None, "", "0", "yes", "true"])
def test_without_the_switch_the_recommended_parameters_are_used(
    monkeypatch: pytest.MonkeyPatch, fresh_hasher: None, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(security.CHEAP_HASHING_FOR_TESTS)
    else:
        monkeypatch.setenv(security.CHEAP_HASHING_FOR_TESTS, value)
    hasher = security._hasher()
    recommended = PasswordHasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        recommended.time_cost,
        recommended.memory_cost,
        recommended.parallelism,
    )
    assert hasher.memory_cost >= RFC_9106_LOW_MEMORY.memory_cost
    stored = security.hash_password("Correct-horse-1")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert security.verify_password(stored, "Correct-horse-1")
    assert not security.verify_password(stored, "Correct-horse-2")


def test_hashes_verify_across_the_switch(
    monkeypatch: pytest.MonkeyPatch, fresh_hasher: None
) -> None:
    cheap = security.hash_password("Correct-horse-1")
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    monkeypatch.delenv(security.CHEAP_HASHING_FOR_TESTS)
    security._hasher.cache_clear()
    strong = security.hash_password("Correct-horse-1")
    assert security.verify_password(cheap, "Correct-horse-1")
    assert not security.verify_password(cheap, "correct-horse-1")
    monkeypatch.setenv(security.CHEAP_HASHING_FOR_TESTS, "1")
    security._hasher.cache_clear()
    assert security.verify_password(strong, "Correct-horse-1")
    assert not security.verify_password(strong, "Correct-horse-")


def test_a_server_started_with_the_switch_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="server.security"):
        security.warn_if_cheap_hashing()
    assert security.CHEAP_HASHING_FOR_TESTS in caplog.text
    assert "test suite only" in caplog.text


def test_a_server_without_the_switch_says_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(security.CHEAP_HASHING_FOR_TESTS)
    with caplog.at_level(logging.WARNING, logger="server.security"):
        security.warn_if_cheap_hashing()
    assert caplog.text == ""
