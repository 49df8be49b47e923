"""From a fetched page to a result (pure functions, no database).

Conditions: the status code is one of the accepted ones, the keyword is present, the absent
keyword is absent (these make the page up or down); the response time is within ``max_ms``
(else slow); the certificate verifies and is not within ``cert_warn_days`` of expiry (else
cert); the page matches its baseline (else tamper). Only a failed up/down condition counts
towards ``down``; slow, cert and tamper are alerts of their own. Tamper is judged on every page
that answered, whatever else failed: a defacement that also removed the required keyword is
still a defacement, and must not hide behind ``down``. An answer with a status that is not
accepted (404, 503) is the web server's error page, not the site's: it is judged only on the
signs a defacer leaves (new external domains, defacement words), never on being different,
or every outage would read as a critical tamper.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from server.monitors.page import PageSnapshot, Verdict, compare, snapshot
from xunjian.core.probe import Fetch

_STATUS_PART = re.compile(r"^([1-5][0-9]{2})(?:-([1-5][0-9]{2}))?$")
STATUSES_LENGTH = 200


class StatusesError(ValueError):
    """accepted_statuses is not a list like "200-299,301"."""


def parse_statuses(text: str) -> tuple[tuple[int, int], ...]:
    if not isinstance(text, str) or not text.strip() or len(text) > STATUSES_LENGTH:
        raise StatusesError(f"accepted_statuses must be 1..{STATUSES_LENGTH} characters")
    spans = []
    for part in text.split(","):
        match = _STATUS_PART.fullmatch(part.strip())
        if match is None:
            raise StatusesError(
                f"accepted_statuses: {part.strip()!r} is not a code or a range like 200-299"
            )
        low = int(match.group(1))
        high = int(match.group(2) or low)
        if high < low:
            raise StatusesError(f"accepted_statuses: range {part.strip()!r} is backwards")
        spans.append((low, high))
    return tuple(spans)


@dataclass(frozen=True)
class Settings:
    """What judging needs from a monitor row."""

    url: str
    accepted_statuses: str = "200-299"
    keyword: str = ""
    absent_keyword: str = ""
    max_ms: int | None = None
    cert_warn_days: int = 14
    tamper_enabled: bool = True
    similarity_percent: int = 80
    volatile_selectors: tuple[str, ...] = ()
    volatile_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Baseline:
    text: str | Callable[[], str]  # a callable reads it only when the page differs
    text_hash: str
    title: str
    domains: tuple[str, ...]


@dataclass
class Result:
    ok: bool
    status_code: int | None
    ms: int
    problems: list[str] = field(default_factory=list)  # why it is not ok
    slow: bool = False
    cert_problem: str = ""
    cert_severity: str = ""
    cert_days: float | None = None
    error: str = ""
    snapshot: PageSnapshot | None = None
    verdict: Verdict | None = None
    final_url: str = ""
    status_accepted: bool = True  # False: an error page, not the site's own page

    def as_json(self) -> dict[str, Any]:
        verdict = self.verdict
        return {
            "ok": self.ok,
            "status_code": self.status_code,
            "ms": self.ms,
            "problems": self.problems,
            "slow": self.slow,
            "cert_problem": self.cert_problem or None,
            "cert_days_left": None if self.cert_days is None else round(self.cert_days, 1),
            "error": self.error or None,
            "final_url": self.final_url,
            "tamper": None
            if verdict is None
            else {
                "tampered": verdict.tampered,
                "similarity": round(verdict.similarity, 3),
                "reasons": list(verdict.reasons),
            },
        }

    def summary(self) -> str:
        words = list(self.problems)
        if self.slow:
            words.append("slow")
        if self.cert_problem:
            words.append("cert")
        if self.verdict is not None and self.verdict.tampered:
            words.append("tamper")
        return "; ".join(words)[:500]


def status_accepted(status: int, spans: Iterable[tuple[int, int]]) -> bool:
    return any(low <= status <= high for low, high in spans)


def judge(
    settings: Settings,
    fetched: Fetch,
    now: datetime.datetime,
    baseline: Baseline | None,
    words: Iterable[str],
) -> Result:
    result = Result(ok=True, status_code=fetched.status, ms=fetched.ms, final_url=fetched.url)
    if fetched.cert is not None:
        result.cert_days = fetched.cert.days_left(now)
        if not fetched.cert.verified:
            not_after = fetched.cert.not_after
            expired = "expired" in fetched.cert.problem.lower() or (
                not_after is not None and not_after < now
            )
            result.cert_problem = (
                f"the certificate has expired ({_on(fetched.cert.not_after)})"
                if expired
                else f"the certificate is not trusted: {fetched.cert.problem}"
            )
            result.cert_severity = "high"
        elif result.cert_days is not None and result.cert_days < settings.cert_warn_days:
            result.cert_problem = (
                f"the certificate expires in {max(result.cert_days, 0):.0f} days "
                f"({_on(fetched.cert.not_after)})"
            )
            result.cert_severity = "medium"
    if fetched.status is None:
        result.ok = False
        result.error = fetched.error
        result.problems.append(fetched.error or "no answer")
        return result
    if not status_accepted(fetched.status, parse_statuses(settings.accepted_statuses)):
        result.ok = False
        result.status_accepted = False
        result.problems.append(f"status {fetched.status}")
    text = fetched.text()
    if settings.keyword and settings.keyword not in text:
        result.ok = False
        result.problems.append(f"keyword {settings.keyword[:80]!r} missing")
    if settings.absent_keyword and settings.absent_keyword in text:
        result.ok = False
        result.problems.append(f"keyword {settings.absent_keyword[:80]!r} present")
    if settings.max_ms is not None and fetched.ms > settings.max_ms:
        result.slow = True
    if settings.tamper_enabled and _is_html(fetched):
        result.snapshot = snapshot(
            text, fetched.url, settings.volatile_selectors, settings.volatile_patterns
        )
        if baseline is not None:
            result.verdict = compare(
                baseline.text,
                baseline.text_hash,
                baseline.title,
                baseline.domains,
                result.snapshot,
                words,
                settings.similarity_percent if result.status_accepted else 0,
            )
    return result


def _is_html(fetched: Fetch) -> bool:
    kind = fetched.content_type.split(";", 1)[0].strip().lower()
    return kind in ("", "text/html", "application/xhtml+xml", "text/plain")


def _on(moment: datetime.datetime | None) -> str:
    return "unknown date" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


@dataclass(frozen=True)
class Flap:
    state: str
    failures: int
    successes: int


def advance(before: Flap, ok: bool, fail_threshold: int, success_threshold: int) -> Flap:
    """The flap state machine: a failure makes the monitor ``pending``; ``fail_threshold``
    failures in a row make it ``down``; a success ends ``pending`` at once, while ``down``
    needs ``success_threshold`` successes in a row to become ``up``."""
    if ok:
        successes = before.successes + 1
        if before.state == "down" and successes < success_threshold:
            return Flap("down", 0, successes)
        return Flap("up", 0, successes)
    failures = before.failures + 1
    if before.state == "down" or failures >= fail_threshold:
        return Flap("down", failures, 0)
    return Flap("pending", failures, 0)
