"""What the three group robots (DingTalk, WeCom, Feishu) share: the URL check, the send, and
reading the service's JSON verdict (a 200 reply can still be a refusal)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from server.notify import transport
from server.notify.errors import PermanentFailure, TemporaryFailure
from server.notify.settings import HttpSettings


def post_to_robot(url: str, payload: dict[str, Any], settings: HttpSettings) -> Any:
    """POST ``payload``; returns the reply's JSON. A 2xx reply that is not JSON is a
    ``TemporaryFailure``: we cannot tell whether the group got the message (a proxy or captive
    portal answered?), and a possible duplicate is better than a lost alert."""
    reply = transport.post_json(
        url,
        transport.encode_json(payload),
        timeout=settings.timeout_seconds,
        ca_file=settings.ca_file,
    )
    document = reply.json()
    if not isinstance(document, dict):
        raise TemporaryFailure(f"HTTP {reply.status} reply is not a JSON object")
    return document


def judge_code(
    service: str,
    code: Any,
    message: Any,
    *,
    temporary_codes: Collection[int],
) -> None:
    """Raise unless ``code`` is 0. Codes the service documents as "busy" or "too many
    messages" are temporary; every other code is permanent, because the service understood
    the request and refused it (bad key, bad signature, keyword missing, bad payload), and
    sending the same bytes again gets the same answer."""
    if code == 0:
        return
    if not isinstance(code, int) or isinstance(code, bool):
        raise TemporaryFailure(f"{service}: reply without a result code")
    text = f"{service} refused the message: code {code} {message or ''}".rstrip()
    if code in temporary_codes:
        raise TemporaryFailure(text)
    raise PermanentFailure(text)
