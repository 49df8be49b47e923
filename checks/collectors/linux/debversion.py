"""Debian's version ordering (deb-version(7)), as dpkg --compare-versions orders versions.

Written out here instead of importing python-debian or python3-apt: the agent stays light, and
the algorithm is short and fixed by Debian policy 5.6.12. tests/checks/test_debversion.py holds
it equal to the real `dpkg --compare-versions` on many pairs.
"""

from __future__ import annotations

import functools


def _split(version: str) -> tuple[int, str, str]:
    epoch_text, colon, rest = version.partition(":")
    if not colon:
        epoch_text, rest = "0", version
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return int(epoch_text or "0"), upstream, revision


def _order(char: str) -> int:
    # "~" sorts before everything, even the end of the string; letters before non-letters.
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(left: str, right: str) -> int:
    i = j = 0
    while i < len(left) or j < len(right):
        # The non-digit prefix, character by character; the end of a string counts as 0.
        while (i < len(left) and not left[i].isdigit()) or (
            j < len(right) and not right[j].isdigit()
        ):
            a = _order(left[i]) if i < len(left) and not left[i].isdigit() else 0
            b = _order(right[j]) if j < len(right) and not right[j].isdigit() else 0
            if a != b:
                return -1 if a < b else 1
            if i < len(left) and not left[i].isdigit():
                i += 1
            if j < len(right) and not right[j].isdigit():
                j += 1
        # Then the digit run, as a number.
        start_i, start_j = i, j
        while i < len(left) and left[i].isdigit():
            i += 1
        while j < len(right) and right[j].isdigit():
            j += 1
        a_num = int(left[start_i:i] or "0")
        b_num = int(right[start_j:j] or "0")
        if a_num != b_num:
            return -1 if a_num < b_num else 1
    return 0


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 as left sorts before, equal to or after right."""
    l_epoch, l_upstream, l_revision = _split(left)
    r_epoch, r_upstream, r_revision = _split(right)
    if l_epoch != r_epoch:
        return -1 if l_epoch < r_epoch else 1
    return _compare_part(l_upstream, r_upstream) or _compare_part(l_revision, r_revision)


version_key = functools.cmp_to_key(compare)
