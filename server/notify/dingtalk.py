"""``dingtalk``: a DingTalk (钉钉) group's custom robot (自定义机器人).

Formats followed (DingTalk open platform documentation):

* 自定义机器人发送群消息 / 消息类型: ``{"msgtype": "text", "text": {"content": ...}}`` or
  ``{"msgtype": "markdown", "markdown": {"title": ..., "text": ...}}``, with
  ``"at": {"atMobiles": [...], "isAtAll": false}``; the mobiles must also appear as ``@mobile``
  in the text to be highlighted. The reply is ``{"errcode": 0, "errmsg": "ok"}``.
* 自定义机器人安全设置 → 加签: ``timestamp`` is the current time in **milliseconds**; the string
  to sign is ``timestamp + "\\n" + secret``; HMAC-SHA256 **keyed with the secret**, Base64,
  then URL-encoded; both go in the query string as ``timestamp`` and ``sign`` next to
  ``access_token``. The service refuses a timestamp more than an hour off.
* Result codes: 130101 "send too fast" (20 messages a minute per robot, then a 10-minute
  pause) and -1 "system busy" are temporary; 310000 (signature, keyword or IP check failed)
  and every other code are permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs, quote

from server.notify import render
from server.notify.base import Notifier
from server.notify.errors import ConfigError
from server.notify.message import AlertMessage, Delivery
from server.notify.robots import judge_code, post_to_robot
from server.notify.settings import HttpSettings, check_url, describe_url

TEMPORARY_CODES = frozenset({-1, 130101})
# DingTalk does not publish a byte limit for robot text; 5,000 is the limit its API gives for
# message content elsewhere and leaves room for the JSON around it.
MAX_TEXT_BYTES = 5000


@dataclass(frozen=True, kw_only=True)
class DingTalkSettings(HttpSettings):
    # The robot's Webhook address as DingTalk shows it: .../robot/send?access_token=...
    webhook_url: str = field(repr=False)
    # 加签 secret, "SEC..."; absent when the robot uses keywords or an IP list instead.
    secret: str | None = field(default=None, repr=False)
    msgtype: Literal["markdown", "text"] = "markdown"
    at_mobiles: tuple[str, ...] = ()
    at_all: bool = False
    # For a robot secured by 自定义关键词: a keyword every message must contain.
    keyword: str | None = None

    def validate(self, kind: str) -> None:
        self.validate_http(kind)
        parts = check_url(kind, "webhook_url", self.webhook_url, allow_http=self.allow_http)
        query = parse_qs(parts.query)
        if not query.get("access_token", [""])[0]:
            raise ConfigError(kind, "webhook_url", "must contain access_token=...")
        if "timestamp" in query or "sign" in query:
            raise ConfigError(kind, "webhook_url", "must not contain timestamp or sign")
        if self.secret is not None and not self.secret.startswith("SEC"):
            raise ConfigError(kind, "secret", 'must be the 加签 secret, which starts with "SEC"')
        for mobile in self.at_mobiles:
            if not mobile.isdigit():
                raise ConfigError(kind, "at_mobiles", f"{mobile!r} is not a mobile number")


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """The 加签 signature, Base64, before URL encoding."""
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode("utf-8"), to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(webhook_url: str, secret: str, now: float | None = None) -> str:
    timestamp_ms = str(int((time.time() if now is None else now) * 1000))
    # quote(safe="") encodes "+", "/" and "=" too: a "+" left raw would be read as a space.
    sign = quote(dingtalk_sign(secret, timestamp_ms), safe="")
    return f"{webhook_url}&timestamp={timestamp_ms}&sign={sign}"


def dingtalk_payload(message: AlertMessage, settings: DingTalkSettings) -> dict[str, object]:
    language = settings.language
    title = render.title(message, language)
    if settings.keyword and settings.keyword not in title:
        title = f"{settings.keyword} {title}"
    mentions = " ".join(f"@{mobile}" for mobile in settings.at_mobiles)
    if settings.msgtype == "text":
        text = render.plain_text(message, language)
        if settings.keyword and settings.keyword not in text:
            text = f"{settings.keyword}\n{text}"
        text = render.truncate_utf8(text, MAX_TEXT_BYTES)
        content: dict[str, object] = {
            "msgtype": "text",
            "text": {"content": f"{text}\n{mentions}".rstrip()},
        }
    else:
        lines = [f"#### {title}", ""]
        for row in render.fields(message, language):
            value = row.value
            if message.console_url and value == message.console_url:
                value = f"[{value}]({value})"
            lines.append(f"- **{row.label}**: {value}")
        for body in render.bodies(message, language):
            lines += ["", body]
        text = render.truncate_utf8("\n".join(lines), MAX_TEXT_BYTES)
        content = {
            "msgtype": "markdown",
            "markdown": {
                "title": render.truncate_utf8(title, 200),
                "text": f"{text}\n\n{mentions}".rstrip(),
            },
        }
    content["at"] = {"atMobiles": list(settings.at_mobiles), "isAtAll": settings.at_all}
    return content


class DingTalkNotifier(Notifier[DingTalkSettings]):
    kind = "dingtalk"
    settings_class = DingTalkSettings

    def send(self, message: AlertMessage) -> Delivery:
        settings = self.settings
        url = settings.webhook_url
        if settings.secret is not None:
            url = signed_url(url, settings.secret)
        reply = post_to_robot(url, dingtalk_payload(message, settings), settings)
        judge_code(
            "DingTalk",
            reply.get("errcode"),
            reply.get("errmsg"),
            temporary_codes=TEMPORARY_CODES,
        )
        return Delivery(self.kind, describe_url(settings.webhook_url), "errcode 0")
