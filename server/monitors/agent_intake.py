"""Monitors run by an agent (an internal-only site the server cannot reach): the list an agent
fetches, and the fetch outcomes it posts back (docs/monitors.md, "Internal-only sites").

The agent only fetches (``xunjian.core.probe.fetch``, the server's own fetch code); judging stays
here: an outcome becomes the same ``Fetch`` the server's probe returns and goes through the
same ``judge_fetch`` and ``record`` (server/monitors/record.py), so flap control, tamper,
certificate, slow, maintenance, history and alerts behave exactly as for the server's probes.

Every outcome is checked strictly before anything is written: unknown fields, wrong types and
values out of bounds are refused (400: the shape is xunjian/core/contract/bodies.py's
``MonitorOutcome``), a body over the probe's own cap is refused (413), and
an outcome for a monitor that is not assigned to the authenticated agent is refused (403). The
agent is the one of the signature, never one named in the body.
"""

from __future__ import annotations

import datetime
import threading
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from server.alerts.channels import Channel
from server.monitors.models import Monitor
from server.monitors.record import DefacementWords, judge_fetch, load, record
from server.store.models import utcnow
from xunjian.core.contract import utc_naive
from xunjian.core.contract.bodies import MonitorOutcome
from xunjian.core.probe import MAX_BODY_BYTES, CertInfo, Fetch
from xunjian.core.schema import BodyError, convert, decode_json

# An agent clock may run ahead of the server's by at most the signature's freshness window; an
# outcome older than this is refused (the agent itself keeps one for at most a day).
MAX_FUTURE = datetime.timedelta(seconds=300)
MAX_AGE = datetime.timedelta(days=2)


class OutcomeTooLarge(Exception):
    """The page body is over the probe's cap (413)."""


class NotAssigned(Exception):
    """The monitor is not one the authenticated agent runs (403)."""


def parse_outcome(document: bytes | dict[str, Any]) -> MonitorOutcome:
    """The checked outcome (the request's bytes, or a parsed document); BodyError (400) or
    OutcomeTooLarge (413) otherwise. The contract checks the shape; the page's size is checked
    here, because a page over the cap is a 413 rather than a malformed body."""
    if isinstance(document, bytes):
        outcome = decode_json(document, MonitorOutcome)
    else:
        outcome = convert(document, MonitorOutcome)
    if len(outcome.body) > MAX_BODY_BYTES:
        raise OutcomeTooLarge(f"body is over the {MAX_BODY_BYTES} byte cap of a page")
    return outcome


def as_fetch(outcome: MonitorOutcome) -> Fetch:
    """The outcome as the ``Fetch`` the server's own probe would have returned."""
    cert = outcome.cert
    info = (
        None
        if cert is None
        else CertInfo(
            None if cert.not_after is None else utc_naive(cert.not_after),
            verified=cert.verified,
            problem=cert.problem,
        )
    )
    return Fetch(
        url=outcome.url,
        status=outcome.status,
        body=outcome.body,
        truncated=outcome.truncated,
        ms=outcome.ms,
        error=outcome.error,
        cert=info,
        redirects=list(outcome.redirects),
        content_type=outcome.content_type,
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
    outcome: MonitorOutcome,
    channels: tuple[Channel, ...] | list[Channel] = (),
    now: datetime.datetime | None = None,
) -> Received:
    """Judge and record an outcome the authenticated ``agent_id`` posted.

    Raises NotAssigned (403) for a monitor that does not exist or is not this agent's, and
    BodyError (400) for a check time outside the bounds; nothing is written then."""
    monitor_id = outcome.monitor_id
    loaded = load(engine, monitor_id)
    if loaded is None or loaded.monitor.agent_id != agent_id:
        raise NotAssigned(f"monitor {monitor_id} is not run by agent {agent_id}")
    now = now or utcnow()
    checked_at = utc_naive(outcome.checked_at)
    if checked_at > now + MAX_FUTURE:
        raise BodyError("checked_at", f"more than {MAX_FUTURE.seconds} s after the server's time")
    if checked_at < now - MAX_AGE:
        raise BodyError("checked_at", f"older than {MAX_AGE.days} days")
    # Within the freshness window an agent clock may run ahead: never record a future time.
    checked_at = min(checked_at, now)
    monitor = loaded.monitor
    if not monitor.enabled:
        return Received(False, "paused")
    if monitor.last_checked_at is not None and checked_at <= monitor.last_checked_at:
        return Received(False, "stale")
    result = judge_fetch(loaded, as_fetch(outcome), checked_at, _words(engine))
    note = {"agent_id": agent_id, "dropped_before": outcome.dropped}
    written = record(engine, monitor_id, result, checked_at, channels, agent_id=agent_id, note=note)
    if not written:
        # Between the read and the write: reassigned, paused, or a newer result landed.
        return Received(False, "stale")
    return Received(True)
