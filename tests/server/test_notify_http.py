"""The HTTP channels against a real HTTP(S) receiver on 127.0.0.1.

Each robot's fake service checks the payload shape and recomputes the signature from the
service's published rule, written out here independently of the product's code, and answers
as the service would (errcode / code), so a wrong signature is caught by a refusal, exactly as
in production. The internet is the one thing replaced, and only by loopback receivers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from server.notify import (
    Delivery,
    PermanentFailure,
    Severity,
    TemporaryFailure,
    build_notifier,
)
from server.notify.transport import MAX_REPLY_BYTES, post_json
from tests.server.test_notify_support import (
    Received,
    Receiver,
    Reply,
    Responder,
    SelfSignedCert,
    make_self_signed_cert,
    sample_digest,
    sample_message,
)

DINGTALK_SECRET = "SECb1f0c3a9e6d24f7a8c0e5d2b9f4a6c1e"
FEISHU_SECRET = "qV3xT9kLmP2sR7wY"
WEBHOOK_SECRET = "a-shared-secret-of-the-school"

StartReceiver = Callable[..., Receiver]


@pytest.fixture
def receiver() -> Iterator[StartReceiver]:
    started: list[Receiver] = []

    def start(responder: Responder, tls: Any = None) -> Receiver:
        instance = Receiver(responder, tls)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.close()


@pytest.fixture
def cert(tmp_path: Path) -> SelfSignedCert:
    return make_self_signed_cert(tmp_path)


def always(reply: Reply) -> Responder:
    return lambda request: reply


def loopback_settings(**settings: Any) -> dict[str, Any]:
    # Plain http to loopback must be asked for explicitly (allow_http); see the URL policy.
    return {"allow_http": True, "timeout_seconds": 5, **settings}


# --- webhook ---------------------------------------------------------------------------------


def test_webhook_payload_and_signature(receiver: StartReceiver) -> None:
    server = receiver(always(Reply(204, b"")))
    notifier = build_notifier(
        "webhook",
        loopback_settings(url=f"{server.base_url}/hooks/xunjian", secret=WEBHOOK_SECRET),
    )
    delivery = notifier.send(sample_message())

    assert delivery == Delivery("webhook", server.base_url, "HTTP 204")
    (request,) = server.requests
    assert request.target == "/hooks/xunjian"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    timestamp = request.headers["x-xunjian-timestamp"]
    assert re.fullmatch(r"\d{10}", timestamp)
    # The documented rule: HMAC-SHA256(secret, timestamp + "." + body), hex, "sha256=" prefix.
    expected = hmac.new(
        WEBHOOK_SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert request.headers["x-xunjian-signature"] == f"sha256={expected}"
    payload = request.json()
    assert payload["version"] == 1
    assert payload["alert"] == {
        "id": "al-42",
        "kind": "default_credential",
        "severity": "critical",
        "title": {"zh": "默认密码未修改", "en": "Default password unchanged"},
        "body": {
            "zh": "交换机 sw-3 仍接受出厂密码 admin/admin,请立即修改。",
            "en": "Switch sw-3 still accepts the factory password admin/admin; change it now.",
        },
        "subject": "sw-3 (10.0.3.1)",
        "opened_at": "2026-11-23T10:00:00+08:00",
        "console_url": "https://xunjian.school.cn/console/alerts/al-42",
    }
    assert payload["text"].startswith("[严重] 默认密码未修改")
    # Chinese travels as UTF-8, not as \\u escapes.
    assert "默认密码".encode() in request.body


def test_webhook_without_secret_sends_no_signature(receiver: StartReceiver) -> None:
    server = receiver(always(Reply(200, {"ok": True})))
    build_notifier("webhook", loopback_settings(url=server.base_url)).send(sample_message())
    (request,) = server.requests
    assert "x-xunjian-signature" not in request.headers
    assert "x-xunjian-timestamp" not in request.headers
    assert request.target == "/"


def test_webhook_carries_the_digest_as_its_own_kind(receiver: StartReceiver) -> None:
    server = receiver(always(Reply(200, {})))
    build_notifier("webhook", loopback_settings(url=server.base_url, language="zh+en")).send(
        sample_digest()
    )
    payload = server.requests[0].json()
    assert payload["alert"]["kind"] == "digest"
    assert payload["alert"]["id"] == "digest-2026-11-23"
    assert payload["alert"]["title"] == {
        "zh": "页面巡检 2026-11-23",
        "en": "Page checks 2026-11-23",
    }
    text = payload["text"]
    assert text.startswith("[日报 / daily digest] 页面巡检 2026-11-23 / Page checks 2026-11-23\n")
    assert "类型 / Kind: 每日页面巡检 / daily page digest" in text
    assert "生成时间 / Sent: 2026-11-23 08:30:00 UTC+08:00" in text
    assert "消息编号 / Reference: digest-2026-11-23" in text
    # Not an alert of any level, and not numbered as one.
    assert "级别" not in text and "Severity" not in text and "告警编号" not in text


def test_https_with_ca_file_is_verified_and_delivered(
    receiver: StartReceiver, cert: SelfSignedCert
) -> None:
    server = receiver(always(Reply(200, {})), tls=cert.server_context())
    notifier = build_notifier(
        "webhook", {"url": f"{server.base_url}/in", "ca_file": str(cert.cert_file)}
    )
    assert notifier.send(sample_message()).detail == "HTTP 200"
    assert len(server.requests) == 1


def test_https_with_untrusted_certificate_is_permanent(
    receiver: StartReceiver, cert: SelfSignedCert
) -> None:
    server = receiver(always(Reply(200, {})), tls=cert.server_context())
    notifier = build_notifier("webhook", {"url": f"{server.base_url}/in"})
    with pytest.raises(PermanentFailure, match="certificate not trusted"):
        notifier.send(sample_message())
    assert server.requests == []


# --- the status mapping (one transport for every HTTP channel) -------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_temporary(receiver: StartReceiver, status: int) -> None:
    server = receiver(always(Reply(status, b"busy")))
    notifier = build_notifier("webhook", loopback_settings(url=server.base_url))
    with pytest.raises(TemporaryFailure, match=f"HTTP {status}"):
        notifier.send(sample_message())


def test_429_is_temporary_and_keeps_retry_after(receiver: StartReceiver) -> None:
    server = receiver(always(Reply(429, b"slow down", {"Retry-After": "30"})))
    notifier = build_notifier("webhook", loopback_settings(url=server.base_url))
    with pytest.raises(TemporaryFailure) as caught:
        notifier.send(sample_message())
    assert caught.value.retry is True
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413])
def test_client_errors_are_permanent(receiver: StartReceiver, status: int) -> None:
    server = receiver(always(Reply(status, b"no")))
    notifier = build_notifier("webhook", loopback_settings(url=server.base_url))
    with pytest.raises(PermanentFailure, match=f"HTTP {status}") as caught:
        notifier.send(sample_message())
    assert caught.value.retry is False


def test_redirect_is_not_followed(receiver: StartReceiver) -> None:
    elsewhere = receiver(always(Reply(200, {})))
    server = receiver(always(Reply(302, b"", {"Location": f"{elsewhere.base_url}/x"})))
    notifier = build_notifier("webhook", loopback_settings(url=server.base_url))
    with pytest.raises(PermanentFailure, match="redirect"):
        notifier.send(sample_message())
    assert elsewhere.requests == []


def test_slow_answer_is_a_temporary_timeout(receiver: StartReceiver) -> None:
    server = receiver(always(Reply(200, {}, delay_seconds=30)))
    notifier = build_notifier(
        "webhook", loopback_settings(url=server.base_url, timeout_seconds=0.5)
    )
    with pytest.raises(TemporaryFailure, match=r"no answer within 0\.5 s"):
        notifier.send(sample_message())
    assert len(server.requests) == 1


def test_refused_connection_is_temporary() -> None:
    # A port that was just free: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notifier = build_notifier("webhook", loopback_settings(url=f"http://127.0.0.1:{port}/"))
    with pytest.raises(TemporaryFailure, match="ConnectionRefused"):
        notifier.send(sample_message())


def test_reply_is_read_only_up_to_the_bound(receiver: StartReceiver) -> None:
    server = receiver(always(Reply(200, b"x" * (MAX_REPLY_BYTES * 4))))
    reply = post_json(f"{server.base_url}/", b"{}", timeout=5)
    assert len(reply.body) == MAX_REPLY_BYTES


# --- dingtalk --------------------------------------------------------------------------------


def fake_dingtalk(secret: str, verdicts: list[dict[str, Any]] | None = None) -> Responder:
    """DingTalk's robot/send as documented: checks access_token, the 加签 signature
    (timestamp ms + "\\n" + secret, HMAC-SHA256 keyed by the secret, Base64, URL-encoded in
    the query) and the message shape; answers errcode 310000 on a bad signature."""

    def respond(request: Received) -> Reply:
        query = request.query
        if query.get("access_token") != ["robot-token-1"]:
            return Reply(200, {"errcode": 300001, "errmsg": "token is not exist"})
        timestamp = query["timestamp"][0]
        string_to_sign = f"{timestamp}\n{secret}".encode()
        digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode()
        fresh = abs(int(timestamp) - time.time() * 1000) < 3600 * 1000
        # parse_qs decoded the URL encoding; a raw "+" would have become a space here.
        if query["sign"] != [expected] or not fresh or not re.fullmatch(r"\d{13}", timestamp):
            return Reply(200, {"errcode": 310000, "errmsg": "sign not match"})
        payload = request.json()
        msgtype = payload["msgtype"]
        assert msgtype in ("markdown", "text")
        if msgtype == "markdown":
            assert set(payload["markdown"]) == {"title", "text"}
        else:
            assert set(payload["text"]) == {"content"}
        assert set(payload["at"]) == {"atMobiles", "isAtAll"}
        if verdicts:
            return Reply(200, verdicts.pop(0))
        return Reply(200, {"errcode": 0, "errmsg": "ok"})

    return respond


def dingtalk_settings(server: Receiver, **settings: Any) -> dict[str, Any]:
    return loopback_settings(
        **{
            "webhook_url": f"{server.base_url}/robot/send?access_token=robot-token-1",
            "secret": DINGTALK_SECRET,
            **settings,
        }
    )


def test_dingtalk_signed_markdown(receiver: StartReceiver) -> None:
    server = receiver(fake_dingtalk(DINGTALK_SECRET))
    delivery = build_notifier("dingtalk", dingtalk_settings(server)).send(sample_message())

    assert delivery == Delivery("dingtalk", server.base_url, "errcode 0")
    (request,) = server.requests
    assert request.target.startswith("/robot/send?access_token=robot-token-1&timestamp=")
    assert "+" not in request.raw_query and "/" not in request.raw_query
    payload = request.json()
    assert payload["msgtype"] == "markdown"
    assert payload["markdown"]["title"] == "[严重] 默认密码未修改"
    text = payload["markdown"]["text"]
    assert text.startswith("#### [严重] 默认密码未修改\n")
    assert "- **对象**: sw-3 (10.0.3.1)" in text
    assert "交换机 sw-3 仍接受出厂密码" in text
    assert "(https://xunjian.school.cn/console/alerts/al-42)" in text
    assert payload["at"] == {"atMobiles": [], "isAtAll": False}


def test_dingtalk_wrong_secret_is_refused_permanently(receiver: StartReceiver) -> None:
    server = receiver(fake_dingtalk(DINGTALK_SECRET))
    notifier = build_notifier("dingtalk", dingtalk_settings(server, secret="SECnot-the-one"))
    with pytest.raises(PermanentFailure, match="310000"):
        notifier.send(sample_message())


def test_dingtalk_text_with_mentions_and_keyword(receiver: StartReceiver) -> None:
    server = receiver(fake_dingtalk(DINGTALK_SECRET))
    settings = dingtalk_settings(
        server, msgtype="text", at_mobiles=["13800001111"], keyword="告警", language="en"
    )
    build_notifier("dingtalk", settings).send(sample_message(severity=Severity.HIGH))
    payload = server.requests[0].json()
    content = payload["text"]["content"]
    assert content.startswith("告警\n[high] Default password unchanged")
    assert content.endswith("@13800001111")
    assert payload["at"] == {"atMobiles": ["13800001111"], "isAtAll": False}


def test_dingtalk_digest_is_titled_as_a_daily_report(receiver: StartReceiver) -> None:
    server = receiver(fake_dingtalk(DINGTALK_SECRET))
    build_notifier("dingtalk", dingtalk_settings(server, keyword="巡检")).send(sample_digest())
    markdown = server.requests[0].json()["markdown"]
    # The keyword is already in the title; nothing is added.
    assert markdown["title"] == "[日报] 页面巡检 2026-11-23"
    assert markdown["text"].startswith("#### [日报] 页面巡检 2026-11-23\n")
    assert "- **类型**: 每日页面巡检" in markdown["text"]
    assert "- **消息编号**: digest-2026-11-23" in markdown["text"]
    assert "级别" not in markdown["text"]
    assert "- 新闻 (https://www.school.cn/news)：故障" in markdown["text"]


@pytest.mark.parametrize(
    ("verdict", "failure"),
    [
        ({"errcode": 130101, "errmsg": "send too fast"}, TemporaryFailure),
        ({"errcode": -1, "errmsg": "system busy"}, TemporaryFailure),
        ({"errcode": 310000, "errmsg": "keywords not in content"}, PermanentFailure),
        ({"errcode": 400102, "errmsg": "robot stopped"}, PermanentFailure),
        ({"errmsg": "no code at all"}, TemporaryFailure),
    ],
)
def test_dingtalk_errcodes(
    receiver: StartReceiver, verdict: dict[str, Any], failure: type[Exception]
) -> None:
    server = receiver(fake_dingtalk(DINGTALK_SECRET, [verdict]))
    with pytest.raises(failure):
        build_notifier("dingtalk", dingtalk_settings(server)).send(sample_message())


def test_robot_reply_that_is_not_json_is_temporary(receiver: StartReceiver) -> None:
    server = receiver(always(Reply(200, b"<html>portal</html>")))
    notifier = build_notifier("dingtalk", dingtalk_settings(server))
    with pytest.raises(TemporaryFailure, match="not a JSON object"):
        notifier.send(sample_message())


# --- wecom -----------------------------------------------------------------------------------


def fake_wecom(verdict: dict[str, Any] | None = None) -> Responder:
    """WeCom's webhook/send: the key in the query is the credential; text content at most
    2,048 bytes, markdown at most 4,096, both UTF-8."""

    def respond(request: Received) -> Reply:
        if request.query.get("key") != ["wecom-key-1"]:
            return Reply(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        payload = request.json()
        if payload["msgtype"] == "text":
            assert set(payload["text"]) <= {"content", "mentioned_mobile_list"}
            assert len(payload["text"]["content"].encode()) <= 2048
        else:
            assert payload["msgtype"] == "markdown"
            assert set(payload["markdown"]) == {"content"}
            assert len(payload["markdown"]["content"].encode()) <= 4096
        return Reply(200, verdict or {"errcode": 0, "errmsg": "ok"})

    return respond


def wecom_settings(server: Receiver, **settings: Any) -> dict[str, Any]:
    return loopback_settings(
        webhook_url=f"{server.base_url}/cgi-bin/webhook/send?key=wecom-key-1", **settings
    )


def test_wecom_markdown(receiver: StartReceiver) -> None:
    server = receiver(fake_wecom())
    delivery = build_notifier("wecom", wecom_settings(server)).send(sample_message())
    assert delivery == Delivery("wecom", server.base_url, "errcode 0")
    content = server.requests[0].json()["markdown"]["content"]
    assert content.startswith('### <font color="warning">[严重] 默认密码未修改</font>\n')
    assert '> 对象: <font color="comment">sw-3 (10.0.3.1)</font>' in content
    assert "交换机 sw-3" in content


def test_wecom_digest_is_titled_as_a_daily_report(receiver: StartReceiver) -> None:
    server = receiver(fake_wecom())
    build_notifier("wecom", wecom_settings(server, language="en")).send(sample_digest())
    content = server.requests[0].json()["markdown"]["content"]
    assert content.startswith(
        '### <font color="info">[daily digest] Page checks 2026-11-23</font>\n'
    )
    assert '> Kind: <font color="comment">daily page digest</font>' in content
    assert '> Sent: <font color="comment">2026-11-23 08:30:00 UTC+08:00</font>' in content
    assert "Severity" not in content and "> Alert:" not in content


def test_wecom_text_is_cut_to_2048_bytes_on_a_character(receiver: StartReceiver) -> None:
    server = receiver(fake_wecom())
    long_body = sample_message().body.__class__("很长的说明。" * 1000)
    settings = wecom_settings(server, msgtype="text", mentioned_mobiles=["13800001111", "@all"])
    build_notifier("wecom", settings).send(sample_message(body=long_body))
    text = server.requests[0].json()["text"]
    assert text["content"].endswith("…")
    assert 2040 <= len(text["content"].encode()) <= 2048
    assert text["mentioned_mobile_list"] == ["13800001111", "@all"]


@pytest.mark.parametrize(
    ("verdict", "failure"),
    [
        ({"errcode": 45009, "errmsg": "api freq out of limit"}, TemporaryFailure),
        ({"errcode": -1, "errmsg": "system busy"}, TemporaryFailure),
        ({"errcode": 93000, "errmsg": "invalid webhook url"}, PermanentFailure),
        ({"errcode": 40008, "errmsg": "invalid message type"}, PermanentFailure),
    ],
)
def test_wecom_errcodes(
    receiver: StartReceiver, verdict: dict[str, Any], failure: type[Exception]
) -> None:
    server = receiver(fake_wecom(verdict))
    with pytest.raises(failure, match=str(verdict["errcode"])):
        build_notifier("wecom", wecom_settings(server)).send(sample_message())


# --- feishu ----------------------------------------------------------------------------------


def fake_feishu(secret: str, verdict: dict[str, Any] | None = None) -> Responder:
    """Feishu's bot/v2/hook: 签名校验 puts timestamp (seconds) and sign in the body; the sign is
    Base64(HMAC-SHA256(key = timestamp + "\\n" + secret, message = empty))."""

    def respond(request: Received) -> Reply:
        payload = request.json()
        timestamp = payload["timestamp"]
        key = f"{timestamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
        fresh = abs(int(timestamp) - time.time()) < 3600
        if payload["sign"] != expected or not fresh or not re.fullmatch(r"\d{10}", timestamp):
            return Reply(
                200,
                {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"},
            )
        assert payload["msg_type"] in ("post", "text")
        return Reply(200, verdict or {"code": 0, "msg": "success", "data": {}})

    return respond


def feishu_settings(server: Receiver, **settings: Any) -> dict[str, Any]:
    return loopback_settings(
        **{
            "webhook_url": f"{server.base_url}/open-apis/bot/v2/hook/hook-token-1",
            "secret": FEISHU_SECRET,
            **settings,
        }
    )


def test_feishu_signed_post_in_both_languages(receiver: StartReceiver) -> None:
    server = receiver(fake_feishu(FEISHU_SECRET))
    delivery = build_notifier("feishu", feishu_settings(server, language="zh+en")).send(
        sample_message()
    )
    assert delivery == Delivery("feishu", server.base_url, "code 0")
    (request,) = server.requests
    assert request.target == "/open-apis/bot/v2/hook/hook-token-1"
    post = request.json()["content"]["post"]
    assert set(post) == {"zh_cn", "en_us"}
    assert post["zh_cn"]["title"] == "[严重] 默认密码未修改"
    assert post["en_us"]["title"] == "[critical] Default password unchanged"
    for paragraph in post["zh_cn"]["content"]:
        for element in paragraph:
            assert element["tag"] in ("text", "a")
    links = [e for p in post["zh_cn"]["content"] for e in p if e["tag"] == "a"]
    assert links == [
        {
            "tag": "a",
            "text": "https://xunjian.school.cn/console/alerts/al-42",
            "href": "https://xunjian.school.cn/console/alerts/al-42",
        }
    ]
    texts = [e["text"] for p in post["zh_cn"]["content"] for e in p if e["tag"] == "text"]
    assert "交换机 sw-3 仍接受出厂密码 admin/admin,请立即修改。" in texts


def test_feishu_text(receiver: StartReceiver) -> None:
    server = receiver(fake_feishu(FEISHU_SECRET))
    build_notifier("feishu", feishu_settings(server, msg_type="text", keyword="巡检")).send(
        sample_message()
    )
    payload = server.requests[0].json()
    assert payload["msg_type"] == "text"
    assert payload["content"]["text"].startswith("巡检\n[严重] 默认密码未修改")


def test_feishu_digest_is_titled_as_a_daily_report(receiver: StartReceiver) -> None:
    server = receiver(fake_feishu(FEISHU_SECRET))
    build_notifier("feishu", feishu_settings(server, language="zh+en")).send(sample_digest())
    post = server.requests[0].json()["content"]["post"]
    assert post["zh_cn"]["title"] == "[日报] 页面巡检 2026-11-23"
    assert post["en_us"]["title"] == "[daily digest] Page checks 2026-11-23"
    zh = [e["text"] for p in post["zh_cn"]["content"] for e in p]
    assert zh[:4] == [
        "类型: 每日页面巡检",
        "对象: 页面监控 / page monitors",
        "生成时间: 2026-11-23 08:30:00 UTC+08:00",
        "消息编号: digest-2026-11-23",
    ]
    en = [e["text"] for p in post["en_us"]["content"] for e in p]
    assert en[0] == "Kind: daily page digest"
    assert en[-1].startswith("2 pages checked, 1 need attention")


def test_feishu_wrong_secret_is_refused_permanently(receiver: StartReceiver) -> None:
    server = receiver(fake_feishu(FEISHU_SECRET))
    notifier = build_notifier("feishu", feishu_settings(server, secret="another-secret"))
    with pytest.raises(PermanentFailure, match="19021"):
        notifier.send(sample_message())


@pytest.mark.parametrize(
    ("verdict", "outcome"),
    [
        ({"code": 11232, "msg": "frequency limited"}, TemporaryFailure),
        ({"code": 99991400, "msg": "request trigger frequency limit"}, TemporaryFailure),
        ({"code": 19024, "msg": "Key Words Not Found"}, PermanentFailure),
        ({"code": 9499, "msg": "Bad Request"}, PermanentFailure),
        ({"StatusCode": 0, "StatusMessage": "success"}, None),
    ],
)
def test_feishu_codes(
    receiver: StartReceiver, verdict: dict[str, Any], outcome: type[Exception] | None
) -> None:
    server = receiver(fake_feishu(FEISHU_SECRET, verdict))
    notifier = build_notifier("feishu", feishu_settings(server))
    if outcome is None:
        assert notifier.send(sample_message()).detail == "code 0"
    else:
        with pytest.raises(outcome):
            notifier.send(sample_message())
