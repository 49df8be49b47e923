"""Monitors run by an agent (an internal-only site the server cannot reach): the list an agent
fetches, and the fetch outcomes it posts back (docs/monitors.md, "Internal-only sites").

The agent only fetches (``xunjian.core.probe.fetch``, the server's own fetch code); judging stays
here: an outcome becomes the same ``Fetch`` the server's probe returns and goes through the
same ``judge_fetch`` and ``record`` (server/monitors/record.py), so flap control, tamper,
certificate, slow, maintenance, history and alerts behave exactly as for the server's probes.

Every outcome is checked strictly before anything is written: unknown fields, wrong types and
values out of bounds are refused (400), a body over the probe's own cap is refused (413), and
an outcome for a monitor that is not assigned to the authenticated agent is refused (403). The
agent is the one of the signature, never one named in the body.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from server.alerts.channels import Channel
from server.monitors.models import Monitor
from server.monitors.record import DefacementWords, judge_fetch, load, record
from server.schema import Field, Rule, SchemaError, integer, list_of, nullable, obj, string
from server.schema import timestamp as timestamp_rule
from server.store.models import utcnow
from xunjian.core.probe import MAX_BODY_BYTES, URL_LENGTH, CertInfo, Fetch

# The body travels base64-encoded; this many characters carry at most MAX_BODY_BYTES.
BODY_TEXT_LIMIT = 4 * ((MAX_BODY_BYTES + 2) // 3)
ERROR_LENGTH = 500
CONTENT_TYPE_LENGTH = 500
MAX_REDIRECTS = 10  # the most a monitor may follow (server/monitors/store.py)
MAX_MS = 3_600_000
# An agent clock may run ahead of the server's by at most the signature's freshness window; an
# outcome older than this is refused (the agent itself keeps one for at most a day).
MAX_FUTURE = datetime.timedelta(seconds=300)
MAX_AGE = datetime.timedelta(days=2)
MAX_DROPPED = 1_000_000


class OutcomeTooLarge(Exception):
    """The page body is over the probe's cap (413)."""


class NotAssigned(Exception):
    """The monitor is not one the authenticated agent runs (403)."""


def _body(value: Any) -> bytes:
    if not isinstance(value, str):
        raise SchemaError("must be a base64 string")
    if len(value) > BODY_TEXT_LIMIT:
        raise OutcomeTooLarge(f"body is over the {MAX_BODY_BYTES} byte cap of a page")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise SchemaError("must be base64") from error
    if len(data) > MAX_BODY_BYTES:
        raise OutcomeTooLarge(f"body is over the {MAX_BODY_BYTES} byte cap of a page")
    return data


def _url(value: Any) -> str:
    """The final URL after redirects: what the probe followed, so http(s) and bounded (a
    redirect's Location is not held to the rules of a monitor's own URL)."""
    if not isinstance(value, str) or not 1 <= len(value) <= URL_LENGTH:
        raise SchemaError(f"must be a string of 1..{URL_LENGTH} characters")
    if not value.lower().startswith(("http://", "https://")):
        raise SchemaError("must be an http:// or https:// address")
    return value


def _expiry(value: Any) -> datetime.datetime:
    """A certificate's notAfter: any year (a self-signed one may say 9999), naive UTC."""
    if not isinstance(value, str) or len(value) > 40:
        raise SchemaError("must be an ISO 8601 time string")
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError as error:
        raise SchemaError("must be an ISO 8601 time string") from error
    if parsed.tzinfo is None:
        raise SchemaError("must carry a time zone, e.g. a trailing Z")
    return parsed.astimezone(datetime.UTC).replace(tzinfo=None)


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise SchemaError("must be true or false")
    return value


def _status(value: Any) -> int:
    return integer(100, 999)(value)  # type: ignore[no-any-return]


CERT: Rule = obj(
    {
        "not_after": Field(nullable(_expiry)),
        "verified": Field(_boolean),
        "problem": Field(string(ERROR_LENGTH), required=False, default=""),
    }
)
OUTCOME: Rule = obj(
    {
        "monitor_id": Field(integer(1, 2**31 - 1)),
        "checked_at": Field(timestamp_rule()),
        "url": Field(_url),
        "status": Field(nullable(_status)),
        "ms": Field(integer(0, MAX_MS)),
        "error": Field(string(ERROR_LENGTH), required=False, default=""),
        "body": Field(_body, required=False, default=b""),
        "truncated": Field(_boolean, required=False, default=False),
        "content_type": Field(string(CONTENT_TYPE_LENGTH), required=False, default=""),
        "redirects": Field(
            list_of(string(URL_LENGTH, min_length=1), MAX_REDIRECTS), required=False, default=list
        ),
        "cert": Field(nullable(CERT), required=False),
        "dropped": Field(integer(0, MAX_DROPPED), required=False, default=0),
    }
)


def parse_outcome(document: Any) -> dict[str, Any]:
    """The checked outcome; SchemaError (400) or OutcomeTooLarge (413) otherwise."""
    outcome: dict[str, Any] = OUTCOME(document)
    if outcome["status"] is None and not outcome["error"]:
        raise SchemaError("error: a fetch without a status must say why")
    return outcome


def as_fetch(outcome: dict[str, Any]) -> Fetch:
    """The outcome as the ``Fetch`` the server's own probe would have returned."""
    cert = outcome["cert"]
    info = (
        None
        if cert is None
        else CertInfo(cert["not_after"], verified=cert["verified"], problem=cert["problem"])
    )
    return Fetch(
        url=outcome["url"],
        status=outcome["status"],
        body=outcome["body"],
        truncated=outcome["truncated"],
        ms=outcome["ms"],
        error=outcome["error"],
        cert=info,
        redirects=list(outcome["redirects"]),
        content_type=outcome["content_type"],
    )


# -- the agent's list -----------------------------------------------------------------------
def monitors_for(engine: Engine, agent_id: str) -> dict[str, Any]:
    """``GET /api/v1/agent/monitors``: what this agent fetches, and how (enabled ones only)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                Monitor.id,
                Monitor.url,
                Monitor.interval_seconds,
                Monitor.timeout_seconds,
                Monitor.follow_redirects,
                Monitor.max_redirects,
            )
            .where(Monitor.agent_id == agent_id, Monitor.enabled.is_(True))
            .order_by(Monitor.id)
        ).all()
    return {
        "monitors": [
            {
                "id": row.id,
                "url": row.url,
                "interval_seconds": row.interval_seconds,
                "timeout_seconds": row.timeout_seconds,
                "follow_redirects": row.follow_redirects,
                "max_redirects": row.max_redirects,
            }
            for row in rows
        ],
        "max_body_bytes": MAX_BODY_BYTES,
    }


# -- an outcome ----------------------------------------------------------------------------
_WORDS: weakref.WeakKeyDictionary[Engine, DefacementWords] = weakref.WeakKeyDictionary()
_WORDS_GUARD = threading.Lock()


def _words(engine: Engine) -> tuple[str, ...]:
    with _WORDS_GUARD:
        words = _WORDS.get(engine)
        if words is None:
            words = _WORDS[engine] = DefacementWords(engine)
    return words.get()


@dataclass(frozen=True)
class Received:
    recorded: bool
    reason: str = ""  # why not: "stale" (a result as recent exists), "paused"


def receive(
    engine: Engine,
    agent_id: str,
    outcome: dict[str, Any],
    channels: tuple[Channel, ...] | list[Channel] = (),
    now: datetime.datetime | None = None,
) -> Received:
    """Judge and record an outcome the authenticated ``agent_id`` posted.

    Raises NotAssigned (403) for a monitor that does not exist or is not this agent's, and
    SchemaError (400) for a check time outside the bounds; nothing is written then."""
    monitor_id = outcome["monitor_id"]
    loaded = load(engine, monitor_id)
    if loaded is None or loaded.monitor.agent_id != agent_id:
        raise NotAssigned(f"monitor {monitor_id} is not run by agent {agent_id}")
    now = now or utcnow()
    checked_at: datetime.datetime = outcome["checked_at"]
    if checked_at > now + MAX_FUTURE:
        raise SchemaError(f"checked_at: more than {MAX_FUTURE.seconds} s after the server's time")
    if checked_at < now - MAX_AGE:
        raise SchemaError(f"checked_at: older than {MAX_AGE.days} days")
    # Within the freshness window an agent clock may run ahead: never record a future time.
    checked_at = min(checked_at, now)
    monitor = loaded.monitor
    if not monitor.enabled:
        return Received(False, "paused")
    if monitor.last_checked_at is not None and checked_at <= monitor.last_checked_at:
        return Received(False, "stale")
    result = judge_fetch(loaded, as_fetch(outcome), checked_at, _words(engine))
    note = {"agent_id": agent_id, "dropped_before": outcome["dropped"]}
    written = record(engine, monitor_id, result, checked_at, channels, agent_id=agent_id, note=note)
    if not written:
        # Between the read and the write: reassigned, paused, or a newer result landed.
        return Received(False, "stale")
    return Received(True)
