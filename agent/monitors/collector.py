"""The monitors' collector: the one part of them that touches the network. It fetches with
``xunjian.core.probe.fetch`` (the very code the server's own checks use, with the same 1 MiB body
cap, deadline, redirect and TLS rules) and writes the outcome as the wire carries it. It
judges nothing: the server does, exactly as for its own checks."""

from __future__ import annotations

import base64
import datetime
from typing import Any

from agent.monitors.spec import MonitorSpec
from xunjian.core.contract import OUTCOME_CONTENT_TYPE_MAX, OUTCOME_ERROR_MAX
from xunjian.core.probe import URL_LENGTH, AddressPolicy, Fetch, fetch


def _time(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def collect(
    spec: MonitorSpec, addresses: AddressPolicy | None = None
) -> tuple[Fetch, datetime.datetime]:
    """Fetch the page now, from the addresses agent.json allows; (what came back, when the
    fetch started, UTC). A refused address is an outcome with its error, like a refused
    connection, so the server's person sees why."""
    started = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    fetched = fetch(
        spec.url,
        timeout=spec.timeout_seconds,
        follow_redirects=spec.follow_redirects,
        max_redirects=spec.max_redirects,
        addresses=addresses,
    )
    return fetched, started


def outcome_document(
    monitor_id: int, fetched: Fetch, checked_at: datetime.datetime, dropped: int = 0
) -> dict[str, Any]:
    """The body of ``POST /api/v1/agent/monitor-outcomes`` (the page's bytes in base64)."""
    cert = fetched.cert
    return {
        "monitor_id": monitor_id,
        "checked_at": _time(checked_at),
        "url": fetched.url[:URL_LENGTH],
        "status": fetched.status,
        "ms": max(0, fetched.ms),
        # A fetch without a status always says why (the server refuses one that does not).
        "error": fetched.error[:OUTCOME_ERROR_MAX] or ("" if fetched.status else "no answer"),
        "body": base64.b64encode(fetched.body).decode("ascii"),
        "truncated": fetched.truncated,
        "content_type": fetched.content_type[:OUTCOME_CONTENT_TYPE_MAX],
        "redirects": list(fetched.redirects),
        "cert": None
        if cert is None
        else {
            "not_after": None if cert.not_after is None else _time(cert.not_after),
            "verified": cert.verified,
            "problem": cert.problem[:OUTCOME_ERROR_MAX],
        },
        "dropped": dropped,
    }
