"""Laying an ``AlertMessage`` out as text, in the channel's language(s).

The labels are the notifier's own; the alert's title and body are the caller's texts, never
translated here. Robots cap message sizes in bytes, so truncation is by UTF-8 bytes and never
cuts a character in half.

An alert is titled by its severity (``[严重] ...``); a notification-only kind (the daily digest)
by what it is (``[日报] ...``), and shows no severity: it is not an alert of any level.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from server.notify.message import (
    AlertKind,
    AlertMessage,
    IncidentKind,
    MessageKind,
    NoticeKind,
    Severity,
)

SEVERITY_LABELS: dict[Severity, dict[str, str]] = {
    Severity.INFO: {"zh": "提示", "en": "info"},
    Severity.LOW: {"zh": "低", "en": "low"},
    Severity.MEDIUM: {"zh": "中", "en": "medium"},
    Severity.HIGH: {"zh": "高", "en": "high"},
    Severity.CRITICAL: {"zh": "严重", "en": "critical"},
}

KIND_LABELS: dict[MessageKind, dict[str, str]] = {
    AlertKind.CHECK_FAILED: {"zh": "检查未通过", "en": "check failed"},
    AlertKind.AGENT_SILENT: {"zh": "终端失联", "en": "agent silent"},
    AlertKind.DOWN: {"zh": "页面检查未通过", "en": "page check failed"},
    AlertKind.TAMPER: {"zh": "页面被篡改", "en": "page changed"},
    AlertKind.DEFAULT_CREDENTIAL: {"zh": "默认密码", "en": "default credential"},
    AlertKind.SPOOL_OVERFLOW: {"zh": "报告缓存溢出", "en": "report spool overflow"},
    AlertKind.CERT: {"zh": "证书即将过期", "en": "certificate expiring"},
    AlertKind.SLOW: {"zh": "页面响应慢", "en": "page slow"},
    AlertKind.WEBSHELL: {"zh": "发现网页后门", "en": "web shell found"},
    AlertKind.SENSITIVE_FILE: {"zh": "上传文件含敏感词", "en": "sensitive words in upload"},
    AlertKind.WATCH_FAILED: {"zh": "文件监控失效", "en": "file watcher failing"},
    AlertKind.BROKEN_LINKS: {"zh": "网站出现失效链接", "en": "broken links on a site"},
    NoticeKind.DIGEST: {"zh": "每日页面巡检", "en": "daily page digest"},
    NoticeKind.TEST: {"zh": "测试消息", "en": "test message"},
    IncidentKind.INCIDENT: {"zh": "安全事件", "en": "incident"},
}

# The bracket that opens a notice's title, where an alert has its severity.
NOTICE_TAGS: dict[NoticeKind, dict[str, str]] = {
    NoticeKind.DIGEST: {"zh": "日报", "en": "daily digest"},
    NoticeKind.TEST: {"zh": "测试", "en": "test"},
}

FIELD_LABELS: dict[str, dict[str, str]] = {
    "severity": {"zh": "级别", "en": "Severity"},
    "kind": {"zh": "类型", "en": "Kind"},
    "subject": {"zh": "对象", "en": "Subject"},
    "opened": {"zh": "发生时间", "en": "Opened"},
    "alert": {"zh": "告警编号", "en": "Alert"},
    "console": {"zh": "控制台", "en": "Console"},
    # A notice is not "opened" and has no alert number.
    "sent": {"zh": "生成时间", "en": "Sent"},
    "reference": {"zh": "消息编号", "en": "Reference"},
    "incident": {"zh": "事件编号", "en": "Incident"},
}

TRUNCATED_MARK = "…"


def languages(setting: str) -> tuple[str, ...]:
    return ("zh", "en") if setting == "zh+en" else (setting,)


def severity_label(message: AlertMessage, language: str) -> str:
    return " / ".join(SEVERITY_LABELS[message.severity][lang] for lang in languages(language))


def tag(message: AlertMessage, language: str) -> str:
    """What the title's bracket says: the severity of an alert, the kind of a notice."""
    if isinstance(message.kind, NoticeKind):
        return " / ".join(NOTICE_TAGS[message.kind][lang] for lang in languages(language))
    return severity_label(message, language)


def title(message: AlertMessage, language: str) -> str:
    """The one-line title, e.g. ``[严重] 弱口令: pc-101`` or ``[日报] 页面巡检 2026-11-23``;
    both languages joined by `` / ``."""
    texts = []
    for lang in languages(language):
        text = message.title.get(lang)
        if text not in texts:
            texts.append(text)
    return f"[{tag(message, language)}] {' / '.join(texts)}"


@dataclass(frozen=True)
class Field:
    label: str
    value: str


def time_text(moment: datetime.datetime) -> str:
    """``2026-11-23 18:05:09 Asia/Shanghai (UTC+08:00)``: the time in the zone the message was
    made in (the console's), named, since a reader cannot tell which clock a bare time is."""
    offset = moment.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    zone = getattr(moment.tzinfo, "key", None)  # an IANA name; a bare offset has none
    return (
        f"{moment:%Y-%m-%d %H:%M:%S} {zone} ({offset})"
        if zone
        else (f"{moment:%Y-%m-%d %H:%M:%S} {offset}")
    )


def fields(message: AlertMessage, language: str) -> list[Field]:
    """The facts every channel shows, labelled in the chosen language(s)."""
    langs = languages(language)

    def label(key: str) -> str:
        return " / ".join(FIELD_LABELS[key][lang] for lang in langs)

    kind = " / ".join(KIND_LABELS[message.kind][lang] for lang in langs)
    when = time_text(message.opened_at)
    if message.is_notice:
        rows = [
            Field(label("kind"), kind),
            Field(label("subject"), message.subject),
            Field(label("sent"), when),
            Field(label("reference"), message.alert_id),
        ]
    else:
        rows = [
            Field(label("severity"), severity_label(message, language)),
            Field(label("kind"), kind),
            Field(label("subject"), message.subject),
            Field(label("opened"), when),
            # An incident's reference is its own ("incident-7"), not an alert's number.
            Field(
                label("incident" if message.kind is IncidentKind.INCIDENT else "alert"),
                message.alert_id,
            ),
        ]
    if message.console_url:
        rows.append(Field(label("console"), message.console_url))
    return rows


def bodies(message: AlertMessage, language: str) -> list[str]:
    texts: list[str] = []
    for lang in languages(language):
        text = message.body.get(lang)
        if text not in texts:
            texts.append(text)
    return texts


def plain_text(message: AlertMessage, language: str) -> str:
    """The whole message as plain text: title, fields, then the body."""
    lines = [title(message, language), ""]
    lines += [f"{row.label}: {row.value}" for row in fields(message, language)]
    for body in bodies(message, language):
        lines += ["", body]
    return "\n".join(lines)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8, marked with … when cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    room = max_bytes - len(TRUNCATED_MARK.encode("utf-8"))
    # errors="ignore" drops a multi-byte character the cut split in half.
    return encoded[: max(room, 0)].decode("utf-8", "ignore") + TRUNCATED_MARK
