"""The registry, settings validation (types, unknown keys, the URL policy, no credentials
without TLS), rendering, and the rule that every notifier kind has docs and tests."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest

from server.notify import (
    NOTIFICATION_ONLY_KINDS,
    NOTIFIERS,
    AlertKind,
    AlertMessage,
    ConfigError,
    LocalText,
    NoticeKind,
    NotifierError,
    PermanentFailure,
    TemporaryFailure,
    build_notifier,
)
from server.notify.render import KIND_LABELS, NOTICE_TAGS, truncate_utf8
from tests.server.test_notify_support import sample_digest, sample_message

ROOT = Path(__file__).resolve().parents[2]
DINGTALK_URL = "https://oapi.dingtalk.com/robot/send?access_token=tok"
WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"
FEISHU_URL = "https://open.feishu.cn/open-apis/bot/v2/hook/h"
EMAIL = {"host": "smtp.school.cn", "from_address": "alerts@school.cn", "to": ["it@school.cn"]}


def test_the_registry_holds_exactly_the_documented_kinds() -> None:
    assert set(NOTIFIERS) == {"email", "webhook", "dingtalk", "wecom", "feishu"}
    docs = (ROOT / "docs" / "notifiers.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^## `(\w+)`", docs, flags=re.MULTILINE))
    assert documented == set(NOTIFIERS)


def test_errors_say_whether_to_retry() -> None:
    assert TemporaryFailure("x").retry is True
    assert PermanentFailure("x").retry is False
    assert issubclass(ConfigError, NotifierError)
    assert not ConfigError("k", "s", "r").retry


def test_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="unknown notifier"):
        build_notifier("sms", {})


@pytest.mark.parametrize(
    ("kind", "settings", "problem"),
    [
        ("webhook", {}, "url: is required"),
        ("webhook", {"url": "https://h/", "secert": "x" * 20}, "secert: unknown setting"),
        ("webhook", {"url": 5}, "url: must be a string"),
        ("webhook", {"url": "https://h/", "timeout_seconds": True}, "must be a number"),
        ("webhook", {"url": "https://h/", "timeout_seconds": 0}, "more than 0"),
        ("webhook", {"url": "https://h/", "secret": "short"}, "at least 16"),
        ("webhook", {"url": "https://h/", "language": "fr"}, "must be one of"),
        ("webhook", {"url": "ftp://h/"}, "https:// URL"),
        ("webhook", {"url": "https://user:pw@h/"}, "user name or password"),
        ("webhook", {"url": "https://h/#x"}, "fragment"),
        ("webhook", {"url": "https://h/a b"}, "spaces"),
        ("webhook", {"url": "http://127.0.0.1/"}, "must use https"),
        ("webhook", {"url": "http://8.8.8.8/", "allow_http": True}, "loopback/private"),
        ("webhook", {"url": "http://relay.school.cn/", "allow_http": True}, "loopback/private"),
        ("dingtalk", {"webhook_url": "https://oapi.dingtalk.com/robot/send"}, "access_token"),
        ("dingtalk", {"webhook_url": DINGTALK_URL, "secret": "abc"}, 'starts with "SEC"'),
        ("dingtalk", {"webhook_url": DINGTALK_URL, "msgtype": "link"}, "must be one of"),
        ("dingtalk", {"webhook_url": DINGTALK_URL, "at_mobiles": "138"}, "list of strings"),
        ("dingtalk", {"webhook_url": DINGTALK_URL + "&sign=x"}, "timestamp or sign"),
        ("wecom", {"webhook_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "key="),
        ("wecom", {"webhook_url": WECOM_URL, "mentioned_mobiles": ["138"]}, "only with"),
        ("feishu", {"webhook_url": "feishu"}, "https:// URL"),
        ("email", {**EMAIL, "port": "587"}, "must be an integer"),
        ("email", {**EMAIL, "port": 70000}, "1..65535"),
        ("email", {**EMAIL, "username": "u"}, "go together"),
        ("email", {**EMAIL, "to": []}, "at least one"),
        ("email", {**EMAIL, "to": ["it@school.cn, boss@school.cn"]}, "not a mail address"),
        ("email", {**EMAIL, "from_address": "alerts"}, "not a mail address"),
        ("email", {**EMAIL, "from_address": "告警@school.cn"}, "not a mail address"),
        ("email", {**EMAIL, "from_name": "x\r\nBcc: a@b.c"}, "one line"),
        ("email", {**EMAIL, "security": "none"}, "only to localhost or a private"),
        (
            "email",
            {**EMAIL, "host": "127.0.0.1", "security": "none", "username": "u", "password": "p"},
            "never sent without TLS",
        ),
    ],
)
def test_bad_settings_are_refused(kind: str, settings: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_notifier(kind, settings)
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"{kind}: ")


@pytest.mark.parametrize(
    ("kind", "settings"),
    [
        ("webhook", {"url": "https://hooks.school.cn/x"}),
        ("webhook", {"url": "http://192.168.1.20:8080/x", "allow_http": True}),
        ("webhook", {"url": "http://[::1]/x", "allow_http": True}),
        ("webhook", {"url": "http://localhost/x", "allow_http": True}),
        ("dingtalk", {"webhook_url": DINGTALK_URL, "secret": "SECabc", "at_all": True}),
        ("wecom", {"webhook_url": WECOM_URL, "msgtype": "text", "mentioned_mobiles": ["@all"]}),
        ("feishu", {"webhook_url": FEISHU_URL, "secret": "s", "language": "zh+en"}),
        ("email", EMAIL),
        ("email", {**EMAIL, "host": "10.0.0.5", "port": 25, "security": "none"}),
    ],
)
def test_good_settings_build(kind: str, settings: dict[str, Any]) -> None:
    notifier = build_notifier(kind, settings)
    assert notifier.kind == kind


def test_reprs_hide_secrets() -> None:
    notifiers = [
        build_notifier("dingtalk", {"webhook_url": DINGTALK_URL, "secret": "SECsecret-one"}),
        build_notifier("wecom", {"webhook_url": WECOM_URL}),
        build_notifier("feishu", {"webhook_url": FEISHU_URL, "secret": "secret-two"}),
        build_notifier("webhook", {"url": "https://h/", "secret": "secret-three-long"}),
        build_notifier("email", {**EMAIL, "username": "u", "password": "secret-four"}),
    ]
    text = " ".join(repr(notifier) for notifier in notifiers)
    for secret in ("secret-one", "tok", "key=k", "/hook/h", "secret-two", "three", "four"):
        assert secret not in text


def test_alert_message_refuses_naive_times_and_unknown_values() -> None:
    with pytest.raises(ValueError, match="time zone"):
        sample_message(opened_at=datetime.datetime(2026, 1, 1))
    with pytest.raises(ValueError):
        sample_message(severity="urgent")
    with pytest.raises(ValueError):
        sample_message(kind="rain")
    message = sample_message(severity="low", kind="down")
    assert isinstance(message, AlertMessage)
    assert message.severity == "low"


def test_alert_kinds_are_the_alerts_and_notices_are_declared_apart() -> None:
    """The notifiers carry exactly the alert kinds the alerts package opens, plus the kinds
    declared notification-only (the digest, the test message), which no alert may have: the
    alert worker queues ``AlertKind`` only, so a notice is never escalated or reminded."""
    from server.alerts.models import KINDS

    assert {kind.value for kind in AlertKind} == set(KINDS)
    assert NOTIFICATION_ONLY_KINDS == {kind.value for kind in NoticeKind} == {"digest", "test"}
    assert NOTIFICATION_ONLY_KINDS.isdisjoint(KINDS)
    # Every kind has its labels, and every notice the tag its title opens with.
    for kind in [*AlertKind, *NoticeKind]:
        assert set(KIND_LABELS[kind]) == {"zh", "en"}
    assert set(NOTICE_TAGS) == set(NoticeKind)


def test_the_digest_is_a_notice_and_an_alert_is_not() -> None:
    digest = sample_digest()
    assert digest.kind is NoticeKind.DIGEST and digest.is_notice
    assert sample_message(kind="digest").kind is NoticeKind.DIGEST
    assert not sample_message().is_notice


def test_english_falls_back_to_chinese() -> None:
    assert LocalText("只有中文").get("en") == "只有中文"
    assert LocalText("中文", "English").get("en") == "English"


@pytest.mark.parametrize("limit", [1, 4, 5, 10, 11, 12, 100])
def test_truncation_never_splits_a_character(limit: int) -> None:
    text = "告警ab告警" * 5
    cut = truncate_utf8(text, limit)
    assert len(cut.encode("utf-8")) <= max(limit, len("…".encode()))
    assert cut == text or cut.endswith("…")
    assert text.startswith(cut.removesuffix("…"))


def test_every_kind_is_sent_in_a_test_against_a_real_receiver() -> None:
    tests = "".join(
        path.read_text(encoding="utf-8")
        for path in (ROOT / "tests" / "server").glob("test_notify_*.py")
        if path.name not in ("test_notify_registry.py", "test_notify_support.py")
    )
    for kind in NOTIFIERS:
        assert f'build_notifier("{kind}"' in tests, f"no send test for {kind}"
