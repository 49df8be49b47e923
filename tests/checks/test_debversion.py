"""checks/collectors/linux/debversion.py orders versions as the real dpkg --compare-versions."""

from __future__ import annotations

import subprocess

import pytest

from checks.collectors.linux.debversion import compare
from tests.checks.hosttree import tool

# Pairs chosen for the rules' corners: epochs, tildes, revisions, letters against digits,
# leading zeros, and real security-update versions of bookworm.
PAIRS = [
    ("1.0", "1.0"),
    ("1.0", "1.0-1"),
    ("1.0~rc1", "1.0"),
    ("1.0~rc1-1", "1.0~rc2-1"),
    ("1:0.9", "2.0"),
    ("2.0", "1:0.1"),
    ("1.0a", "1.0"),
    ("1.0a", "1.0+"),
    ("1.0.1", "1.0a"),
    ("01.0", "1.0"),
    ("1.10", "1.9"),
    ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1"),
    ("3.0.11-1~deb12u2", "3.0.11-1"),
    ("252.30-1~deb12u2", "252.33-1~deb12u1"),
    ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u5"),
    ("2.36-9+deb12u4", "2.36-9+deb12u10"),
    ("1.2.3-1+b1", "1.2.3-1"),
    ("~~", "~"),
    ("~", ""),
    ("a", "~"),
    ("1.0-1.1", "1.0-1"),
    ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12"),
    ("0:1.0", "1.0"),
    ("1.0-a", "1.0-1"),
]


def _dpkg_order(left: str, right: str) -> int:
    dpkg = tool("dpkg")
    for answer, relation in ((-1, "lt"), (0, "eq"), (1, "gt")):
        done = subprocess.run([dpkg, "--compare-versions", left, relation, right], check=False)
        if done.returncode == 0:
            return answer
    raise AssertionError(f"dpkg could not order {left!r} and {right!r}")


@pytest.mark.parametrize(("left", "right"), [p for p in PAIRS if p[0] and p[1]])
def test_compare_orders_as_dpkg_does(left: str, right: str) -> None:
    assert compare(left, right) == _dpkg_order(left, right)
    assert compare(right, left) == _dpkg_order(right, left)


def test_tilde_sorts_before_the_end_of_a_version() -> None:
    # dpkg refuses an empty version on the command line, so this corner is held directly.
    assert compare("~", "") == -1
    assert compare("", "~") == 1
