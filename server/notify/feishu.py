"""``feishu``: a Feishu / Lark (飞书) group's custom bot (自定义机器人).

Format followed (Feishu open platform, 自定义机器人使用指南): POST JSON to
``https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN``, either
``{"msg_type": "text", "content": {"text": ...}}`` or a rich-text
``{"msg_type": "post", "content": {"post": {"zh_cn": {"title": ..., "content": [[{"tag":
"text", "text": ...}, {"tag": "a", "text": ..., "href": ...}], ...]}}}}`` (``en_us`` beside
``zh_cn`` for English). The request body may be at most 20 KB.

签名校验: ``timestamp`` is the current time in **seconds**; ``string_to_sign = timestamp +
"\\n" + secret`` is used as the HMAC-SHA256 **key** over an **empty** message (unlike
DingTalk, which keys with the secret); the digest is Base64-encoded and sent, not URL-encoded,
as ``"timestamp"`` and ``"sign"`` fields of the JSON body. The service refuses a timestamp more
than an hour off.

The reply is ``{"code": 0, "msg": "success", ...}`` (older bots also answer
``"StatusCode": 0``). 11232 and 99991400 (frequency limits) are temporary; 19021 (signature),
19022 (IP not allowed), 19024 (keyword not found), 9499 (bad request) and every other code
are permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from server.notify import render
from server.notify.base import Notifier
from server.notify.message import AlertMessage, Delivery
from server.notify.robots import judge_code, post_to_robot
from server.notify.settings import HttpSettings, check_url, describe_url

TEMPORARY_CODES = frozenset({11232, 99991400})
# The body limit is 20 KB; the text is capped below it to leave room for the JSON around it.
MAX_TEXT_BYTES = 16 * 1024
POST_LOCALES = {"zh": "zh_cn", "en": "en_us"}


@dataclass(frozen=True, kw_only=True)
class FeishuSettings(HttpSettings):
    webhook_url: str = field(repr=False)
    # 签名校验 secret; absent when the bot uses keywords or an IP list instead.
    secret: str | None = field(default=None, repr=False)
    msg_type: Literal["post", "text"] = "post"
    # For a bot secured by 自定义关键词: a keyword every message must contain.
    keyword: str | None = None

    def validate(self, kind: str) -> None:
        self.validate_http(kind)
        check_url(kind, "webhook_url", self.webhook_url, allow_http=self.allow_http)


def feishu_sign(secret: str, timestamp_s: str) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _post_locale(message: AlertMessage, language: str, keyword: str | None) -> dict[str, Any]:
    title = render.title(message, language)
    if keyword and keyword not in title:
        title = f"{keyword} {title}"
    paragraphs: list[list[dict[str, str]]] = []
    for row in render.fields(message, language):
        if message.console_url and row.value == message.console_url:
            link = {"tag": "a", "text": row.value, "href": row.value}
            paragraphs.append([{"tag": "text", "text": f"{row.label}: "}, link])
        else:
            paragraphs.append([{"tag": "text", "text": f"{row.label}: {row.value}"}])
    for body in render.bodies(message, language):
        paragraphs.append([{"tag": "text", "text": render.truncate_utf8(body, MAX_TEXT_BYTES)}])
    return {"title": title, "content": paragraphs}


def feishu_payload(message: AlertMessage, settings: FeishuSettings) -> dict[str, Any]:
    if settings.msg_type == "text":
        text = render.plain_text(message, settings.language)
        if settings.keyword and settings.keyword not in text:
            text = f"{settings.keyword}\n{text}"
        return {
            "msg_type": "text",
            "content": {"text": render.truncate_utf8(text, MAX_TEXT_BYTES)},
        }
    # One locale per language shown: Feishu picks the reader's own when both are present.
    post = {
        POST_LOCALES[language]: _post_locale(message, language, settings.keyword)
        for language in render.languages(settings.language)
    }
    return {"msg_type": "post", "content": {"post": post}}


class FeishuNotifier(Notifier[FeishuSettings]):
    kind = "feishu"
    settings_class = FeishuSettings

    def send(self, message: AlertMessage) -> Delivery:
        settings = self.settings
        payload = feishu_payload(message, settings)
        if settings.secret is not None:
            timestamp = str(int(time.time()))
            payload = {
                "timestamp": timestamp,
                "sign": feishu_sign(settings.secret, timestamp),
                **payload,
            }
        reply = post_to_robot(settings.webhook_url, payload, settings)
        code = reply.get("code", reply.get("StatusCode"))
        message_text = reply.get("msg", reply.get("StatusMessage"))
        judge_code("Feishu", code, message_text, temporary_codes=TEMPORARY_CODES)
        return Delivery(self.kind, describe_url(settings.webhook_url), "code 0")
