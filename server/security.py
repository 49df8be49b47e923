"""Secrets: password hashing (argon2id), random tokens stored as SHA-256, the E4 password rule."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import string
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# 32 random bytes: well past guessing, and a SHA-256 of it is a safe stored form (no salt or
# slow hash needed, unlike a password chosen by a person).
TOKEN_BYTES = 32
TOKEN_PREFIX_LENGTH = 12  # the tag and six random characters
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 256


# The test suite hashes hundreds of passwords (every data folder's first admin, every user a test
# adds, every login); with the recommended parameters each costs 0.14-1.3 s on the 2-core test
# machine (64 MiB, 3 passes, 4 lanes), with the cheapest argon2id allows 0.1 ms. The suite sets
# this variable (tests/conftest.py), so servers it starts as subprocesses inherit it. It is read
# only here, its name says what it is, `xunjian server run` logs a warning at start when it is
# set (serve.py), and nothing in the product sets it. Hashes carry their own parameters, so a
# hash made either way verifies either way.
CHEAP_HASHING_FOR_TESTS = "XUNJIAN_TESTS_ONLY_CHEAP_PASSWORD_HASHING"
log = logging.getLogger(__name__)


def cheap_hashing_for_tests() -> bool:
    """True when the test suite asked for cheap password hashing (see CHEAP_HASHING_FOR_TESTS)."""
    return os.environ.get(CHEAP_HASHING_FOR_TESTS) == "1"


def warn_if_cheap_hashing() -> None:
    if cheap_hashing_for_tests():
        log.warning(
            "%s=1: passwords are hashed with argon2id's cheapest parameters, which is for the "
            "test suite only; unset it on any real server",
            CHEAP_HASHING_FOR_TESTS,
        )


@cache
def _hasher() -> PasswordHasher:
    if cheap_hashing_for_tests():
        # argon2id's minimum cost (1 pass over 8 KiB): only for the test suite.
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    """Spend the time of a real verification for an unknown user name, so response time does
    not tell an attacker which names exist."""
    verify_password(_dummy_hash(), password)


# Tokens start with a fixed tag: it says what a leaked string is (and secret scanners can match
# it), and it keeps a token from starting with "-", which URL-safe base64 does one time in 64 and
# which would make the printed `xunjian agent enroll --token -abc...` line fail to parse.
TOKEN_TAGS = {"enroll": "xjenr_", "api": "xjapi_"}


def new_token(kind: str) -> str:
    return TOKEN_TAGS[kind] + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_prefix(token: str) -> str:
    """The first characters, shown in lists so a person can tell tokens apart."""
    return token[:TOKEN_PREFIX_LENGTH]


def new_password() -> str:
    """A random password that itself satisfies the E4 rule (it is typed once, then changed)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16)) + "-"
        if password_problem(candidate) is None:
            return candidate


def password_problem(password: str) -> str | None:
    """None when ``password`` meets POLICY.md E4, else the reason in English.

    E4: at least 8 characters, mixing letters, digits and symbols; read here as three of the
    four classes lower case, upper case, digit, symbol.
    """
    if len(password) < PASSWORD_MIN_LENGTH:
        return f"at least {PASSWORD_MIN_LENGTH} characters"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"at most {PASSWORD_MAX_LENGTH} characters"
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    if sum(classes) < 3:
        return "three of: lower case, upper case, digits, symbols"
    return None
