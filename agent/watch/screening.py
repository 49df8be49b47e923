"""Screening of new and changed files: web-shell signatures (shipped) and sensitive words (the
administrator's list, from the policy). Pure functions over bytes: the watcher reads the file.

Sensitive words are looked for in UTF-8 and in GBK, the two encodings Chinese documents and
pages are written in; the finding names the word, never the text around it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from xunjian.core.contract import MAX_FINDINGS


@dataclass(frozen=True)
class Finding:
    kind: str  # "webshell" | "sensitive_word"
    rule: str  # the signature's name or the word

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "rule": self.rule}


@cache
def signatures() -> tuple[tuple[str, re.Pattern[bytes]], ...]:
    text = files("agent.watch").joinpath("webshell_signatures.txt").read_text("utf-8")
    found: list[tuple[str, re.Pattern[bytes]]] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, _, pattern = line.partition("\t")
        found.append((name.strip(), re.compile(pattern.strip().encode(), re.IGNORECASE)))
    return tuple(found)


def _encodings(word: str) -> list[bytes]:
    forms = [word.encode("utf-8")]
    try:
        gbk = word.encode("gbk")
    except UnicodeEncodeError:
        return forms
    if gbk not in forms:
        forms.append(gbk)
    return forms


def screen(data: bytes, words: tuple[str, ...] = (), webshells: bool = True) -> list[Finding]:
    """What in ``data`` is a web shell or contains a sensitive word; at most MAX_FINDINGS."""
    findings: list[Finding] = []
    if webshells:
        for name, pattern in signatures():
            if pattern.search(data):
                findings.append(Finding("webshell", name))
    lowered = data.lower()
    for word in words:
        if len(findings) >= MAX_FINDINGS:
            break
        # ASCII words match in any case; others byte for byte (GBK's second bytes can be
        # ASCII letters, which lowering would change).
        haystack = lowered if word.isascii() else data
        needle_forms = (
            [form.lower() for form in _encodings(word)] if word.isascii() else (_encodings(word))
        )
        if any(form in haystack for form in needle_forms):
            findings.append(Finding("sensitive_word", word))
    return findings[:MAX_FINDINGS]
