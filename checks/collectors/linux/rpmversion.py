"""RPM's version order (rpmvercmp in rpm's lib/rpmvercmp.c), for pending updates from files.

Versions compare segment by segment: runs of digits as numbers, runs of letters as text, a
number beating a letter; other characters only separate segments; "~" sorts before anything,
even the end ("1.0~rc1" < "1.0"), and "^" after the end but before anything else
("1.0^git1" > "1.0", < "1.0.1"). An EVR compares epoch (missing: 0), then version, then release.
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"(\d+|[A-Za-z]+)")


def _skip(text: str) -> str:
    """Leading separators dropped; "~" and "^" are not separators."""
    index = 0
    while index < len(text) and not (text[index].isalnum() or text[index] in "~^"):
        index += 1
    return text[index:]


def vercmp(left: str, right: str) -> int:
    """-1, 0 or 1 as left sorts before, with or after right."""
    if left == right:
        return 0
    one, two = left, right
    while one or two:
        one, two = _skip(one), _skip(two)
        if one.startswith("~") or two.startswith("~"):
            if not one.startswith("~"):
                return 1
            if not two.startswith("~"):
                return -1
            one, two = one[1:], two[1:]
            continue
        if one.startswith("^") or two.startswith("^"):
            if not one:
                return -1
            if not two:
                return 1
            if not one.startswith("^"):
                return 1
            if not two.startswith("^"):
                return -1
            one, two = one[1:], two[1:]
            continue
        if not one or not two:
            break
        first = _SEGMENT.match(one)
        numeric = one[0].isdigit()
        pattern = r"\d+" if numeric else r"[A-Za-z]+"
        second = re.match(pattern, two)
        assert first is not None
        if second is None:
            # A number against letters: the number is newer.
            return 1 if numeric else -1
        a, b = first.group(0), second.group(0)
        one, two = one[len(a) :], two[len(b) :]
        if numeric:
            a, b = a.lstrip("0"), b.lstrip("0")
            if len(a) != len(b):
                return 1 if len(a) > len(b) else -1
        if a != b:
            return 1 if a > b else -1
    if not one and not two:
        return 0
    return -1 if not one else 1


def evrcmp(left: tuple[int, str, str], right: tuple[int, str, str]) -> int:
    """Compare (epoch, version, release) triples."""
    if left[0] != right[0]:
        return 1 if left[0] > right[0] else -1
    return vercmp(left[1], right[1]) or vercmp(left[2], right[2])
