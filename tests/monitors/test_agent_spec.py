"""The agent checks the monitor list the server sends before using any of it, and writes what
it fetched (a real fetch of a loopback site, TLS included) in the shape the server accepts."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from agent.messages import MessageError
from agent.monitors.collector import collect, outcome_document
from agent.monitors.spec import MonitorSpec, parse_monitor_list
from server.monitors.agent_intake import as_fetch, parse_outcome
from tests.monitors.helpers import LOOPBACK
from tests.monitors.site import Site
from xunjian.core.contract import MAX_AGENT_MONITORS

ENTRY = {
    "id": 7,
    "url": "http://intranet.example-school.lan/",
    "interval_seconds": 60,
    "timeout_seconds": 10,
    "follow_redirects": True,
    "max_redirects": 5,
}


def test_a_good_list_is_read_and_unknown_keys_are_ignored() -> None:
    [spec] = parse_monitor_list({"monitors": [{**ENTRY, "new": 1}], "max_body_bytes": 1})
    assert spec == MonitorSpec(7, "http://intranet.example-school.lan/", 60, 10, True, 5)
    assert parse_monitor_list({"monitors": []}) == []


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"monitors": {}},
        {"monitors": [ENTRY] * 2},
        {"monitors": [{**ENTRY, "id": n} for n in range(1, MAX_AGENT_MONITORS + 2)]},
        {"monitors": [{**ENTRY, "url": "file:///etc/shadow"}]},
        {"monitors": [{**ENTRY, "url": "http://user:pw@intranet/"}]},
        {"monitors": [{**ENTRY, "interval_seconds": 1}]},
        {"monitors": [{**ENTRY, "timeout_seconds": 600}]},
        {"monitors": [{**ENTRY, "max_redirects": True}]},
        {"monitors": [{**ENTRY, "follow_redirects": "yes"}]},
        {"monitors": [{key: value for key, value in ENTRY.items() if key != "id"}]},
    ],
)
def test_a_bad_list_is_refused_whole(answer: Any) -> None:
    with pytest.raises(MessageError):
        parse_monitor_list(answer)


def test_what_the_agent_fetched_is_what_the_server_reads(tls_site: Site) -> None:
    spec = MonitorSpec(3, tls_site.url(), 60, 10, True, 5)
    fetched, checked_at = collect(spec, LOOPBACK)
    document = outcome_document(3, fetched, checked_at, dropped=1)
    read = as_fetch(parse_outcome(document))
    assert read == fetched  # body, status, final URL, content type, certificate and all
    assert read.cert is not None and not read.cert.verified  # the site's certificate expired
    assert base64.b64decode(document["body"]) == fetched.body and document["dropped"] == 1
