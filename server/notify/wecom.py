"""``wecom``: a WeCom (企业微信) group robot (群机器人).

Format followed (WeCom developer documentation, 群机器人配置说明): POST JSON to the robot's
``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY`` address, either
``{"msgtype": "text", "text": {"content": ..., "mentioned_mobile_list": [...]}}`` (content at
most 2,048 bytes of UTF-8) or ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (at
most 4,096 bytes; a subset of Markdown plus ``<font color="warning|comment|info">``). There is
no signing: the key in the URL is the credential, so it is kept out of logs and reprs.
The reply is ``{"errcode": 0, "errmsg": "ok"}``; 45009 (API frequency limit; 20 messages a
minute per robot) and -1 (system busy) are temporary, every other code (93000 invalid webhook
URL, 40008 invalid message type, ...) permanent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs

from server.notify import render
from server.notify.base import Notifier
from server.notify.errors import ConfigError
from server.notify.message import AlertMessage, Delivery, Severity
from server.notify.robots import judge_code, post_to_robot
from server.notify.settings import HttpSettings, check_url, describe_url

TEMPORARY_CODES = frozenset({-1, 45009})
MAX_TEXT_BYTES = 2048
MAX_MARKDOWN_BYTES = 4096
SEVERITY_COLOURS = {
    Severity.CRITICAL: "warning",
    Severity.HIGH: "warning",
    Severity.MEDIUM: "comment",
    Severity.LOW: "comment",
    Severity.INFO: "info",
}


@dataclass(frozen=True, kw_only=True)
class WeComSettings(HttpSettings):
    # The robot's Webhook address as WeCom shows it: .../cgi-bin/webhook/send?key=...
    webhook_url: str = field(repr=False)
    msgtype: Literal["markdown", "text"] = "markdown"
    # Mobiles to @ (or "@all"); WeCom honours them only in text messages.
    mentioned_mobiles: tuple[str, ...] = ()

    def validate(self, kind: str) -> None:
        self.validate_http(kind)
        parts = check_url(kind, "webhook_url", self.webhook_url, allow_http=self.allow_http)
        if not parse_qs(parts.query).get("key", [""])[0]:
            raise ConfigError(kind, "webhook_url", "must contain key=...")
        if self.mentioned_mobiles and self.msgtype != "text":
            raise ConfigError(
                kind, "mentioned_mobiles", 'WeCom mentions work only with msgtype "text"'
            )
        for mobile in self.mentioned_mobiles:
            if mobile != "@all" and not mobile.isdigit():
                raise ConfigError(kind, "mentioned_mobiles", f"{mobile!r} is not a mobile")


def wecom_payload(message: AlertMessage, settings: WeComSettings) -> dict[str, object]:
    language = settings.language
    if settings.msgtype == "text":
        text: dict[str, object] = {
            "content": render.truncate_utf8(render.plain_text(message, language), MAX_TEXT_BYTES)
        }
        if settings.mentioned_mobiles:
            text["mentioned_mobile_list"] = list(settings.mentioned_mobiles)
        return {"msgtype": "text", "text": text}
    colour = SEVERITY_COLOURS[message.severity]
    lines = [f'### <font color="{colour}">{render.title(message, language)}</font>']
    for row in render.fields(message, language):
        value = row.value
        if message.console_url and value == message.console_url:
            value = f"[{value}]({value})"
        lines.append(f'> {row.label}: <font color="comment">{value}</font>')
    for body in render.bodies(message, language):
        lines += ["", body]
    content = render.truncate_utf8("\n".join(lines), MAX_MARKDOWN_BYTES)
    return {"msgtype": "markdown", "markdown": {"content": content}}


class WeComNotifier(Notifier[WeComSettings]):
    kind = "wecom"
    settings_class = WeComSettings

    def send(self, message: AlertMessage) -> Delivery:
        settings = self.settings
        reply = post_to_robot(settings.webhook_url, wecom_payload(message, settings), settings)
        judge_code(
            "WeCom", reply.get("errcode"), reply.get("errmsg"), temporary_codes=TEMPORARY_CODES
        )
        return Delivery(self.kind, describe_url(settings.webhook_url), "errcode 0")
