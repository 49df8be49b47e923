"""The ``email`` channel against a real SMTP server on loopback (aiosmtpd), with STARTTLS on a
throwaway self-signed certificate: what arrives (headers, UTF-8 body), that TLS came before
AUTH, and that credentials are never offered to a server without TLS."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from server.notify import Delivery, PermanentFailure, TemporaryFailure, build_notifier
from tests.server.test_notify_support import (
    SelfSignedCert,
    make_self_signed_cert,
    sample_digest,
    sample_message,
)

USER = "alerts@school.cn"
PASSWORD = "correct horse battery staple"


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    authenticated: bool

    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


def over_tls(server: SMTP) -> bool:
    """Whether this SMTP session runs inside TLS, after STARTTLS or from the start."""
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


@dataclass
class Recorder:
    """aiosmtpd handler: keeps every message and every AUTH attempt; refuses scripted
    recipients with the given SMTP reply."""

    delivered: list[Delivered] = field(default_factory=list)
    auth_attempts: list[tuple[str, bool]] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.delivered.append(
            Delivered(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=envelope.content,
                tls=over_tls(server),
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login.decode() == USER and data.password.decode() == PASSWORD
        self.auth_attempts.append((data.login.decode(), over_tls(server)))
        return AuthResult(success=ok, handled=False)


@dataclass
class MailServer:
    recorder: Recorder
    port: int


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


StartServer = Callable[..., MailServer]


@pytest.fixture
def cert(tmp_path: Path) -> SelfSignedCert:
    return make_self_signed_cert(tmp_path)


@pytest.fixture
def mail_server(cert: SelfSignedCert) -> Iterator[StartServer]:
    """Start aiosmtpd on 127.0.0.1. ``mode``: "starttls" (offers STARTTLS, refuses AUTH and
    mail before it), "tls" (implicit TLS, like port 465) or "plain" (no TLS at all)."""
    controllers: list[Controller] = []

    def start(mode: str = "starttls", refuse: dict[str, str] | None = None) -> MailServer:
        recorder = Recorder(refuse=refuse or {})
        options: dict[str, Any] = {
            # An explicit name: aiosmtpd would otherwise ask DNS for this host's FQDN.
            "server_hostname": "localhost",
            "authenticator": recorder.authenticate,
            "auth_require_tls": True,
        }
        if mode == "starttls":
            options |= {"tls_context": cert.server_context(), "require_starttls": True}
        elif mode == "tls":
            # aiosmtpd counts only STARTTLS as TLS for its AUTH rule; this whole connection is
            # TLS, so lift the rule (over_tls() still records what really happened).
            options |= {"ssl_context": cert.server_context(), "auth_require_tls": False}
        else:
            # aiosmtpd refuses AUTH without TLS unless told otherwise; this server has no TLS
            # at all, so allow it to prove that our client never even tries.
            options |= {"auth_require_tls": False}
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
        controller.start()
        controllers.append(controller)
        return MailServer(recorder, port)

    yield start
    for controller in controllers:
        controller.stop()


def email_settings(server: MailServer, cert: SelfSignedCert, **settings: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": server.port,
        "username": USER,
        "password": PASSWORD,
        "from_address": USER,
        "from_name": "巡检告警",
        "to": ["it-duty@school.cn", "head@school.cn"],
        "ca_file": str(cert.cert_file),
        "helo_name": "xunjian-test",
        "timeout_seconds": 10,
        **settings,
    }


def test_starttls_login_and_message(mail_server: StartServer, cert: SelfSignedCert) -> None:
    server = mail_server("starttls")
    delivery = build_notifier("email", email_settings(server, cert)).send(sample_message())

    assert delivery == Delivery("email", f"smtp://127.0.0.1:{server.port}", "accepted for 2 of 2")
    assert server.recorder.auth_attempts == [(USER, True)]
    (got,) = server.recorder.delivered
    assert got.tls is True
    assert got.authenticated is True
    assert got.mail_from == USER
    assert got.rcpt_tos == ["it-duty@school.cn", "head@school.cn"]
    mail = got.message()
    assert mail["Subject"] == "[巡检][严重] 默认密码未修改"
    assert mail["From"].addresses[0].display_name == "巡检告警"
    assert mail["From"].addresses[0].addr_spec == USER
    assert [a.addr_spec for a in mail["To"].addresses] == ["it-duty@school.cn", "head@school.cn"]
    assert mail["X-Xunjian-Alert-Id"] == "al-42"
    assert mail["X-Xunjian-Kind"] == "default_credential"
    assert mail["Message-ID"].endswith("@school.cn>")
    assert mail["Date"].datetime is not None
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    body = mail.get_content().replace("\r\n", "\n")
    assert body.startswith("[严重] 默认密码未修改\n")
    assert "对象: sw-3 (10.0.3.1)" in body
    assert "交换机 sw-3 仍接受出厂密码 admin/admin,请立即修改。" in body
    assert "https://xunjian.school.cn/console/alerts/al-42" in body
    # Header lines stay 7-bit: the Chinese subject travels as an encoded word.
    raw_headers = got.content.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()


def test_starttls_without_login(mail_server: StartServer, cert: SelfSignedCert) -> None:
    server = mail_server("starttls")
    settings = email_settings(server, cert, username=None, password=None, language="en")
    build_notifier("email", settings).send(sample_message())
    (got,) = server.recorder.delivered
    assert got.tls is True
    assert got.authenticated is False
    assert server.recorder.auth_attempts == []
    assert got.message()["Subject"] == "[巡检][critical] Default password unchanged"


def test_the_digest_is_a_daily_report_not_an_alert(
    mail_server: StartServer, cert: SelfSignedCert
) -> None:
    server = mail_server("starttls")
    build_notifier("email", email_settings(server, cert)).send(sample_digest())
    mail = server.recorder.delivered[0].message()
    assert mail["Subject"] == "[巡检][日报] 页面巡检 2026-11-23"
    assert mail["X-Xunjian-Kind"] == "digest"
    assert mail["X-Xunjian-Notice-Id"] == "digest-2026-11-23"
    assert mail["X-Xunjian-Alert-Id"] is None
    body = mail.get_content().replace("\r\n", "\n")
    assert body.startswith("[日报] 页面巡检 2026-11-23\n\n类型: 每日页面巡检\n")
    assert "级别" not in body and "告警编号" not in body
    assert "共检查 2 个页面，1 个需要关注" in body


def test_the_test_server_refuses_auth_before_starttls(mail_server: StartServer) -> None:
    """The receiver's own rule, shown with a bare smtplib client: AUTH in clear text gets 530.
    So the accepted login above could only have happened after STARTTLS."""
    server = mail_server("starttls")
    with smtplib.SMTP("127.0.0.1", server.port, local_hostname="probe", timeout=10) as client:
        client.ehlo()
        client.esmtp_features["auth"] = "LOGIN PLAIN"  # offer hidden before TLS; try anyway
        with pytest.raises(smtplib.SMTPException) as refused:
            client.login(USER, PASSWORD)
    assert "530" in str(refused.value) or "Must issue a STARTTLS" in str(refused.value)
    assert server.recorder.auth_attempts == []


def test_no_starttls_offered_means_nothing_is_sent(
    mail_server: StartServer, cert: SelfSignedCert
) -> None:
    server = mail_server("plain")
    notifier = build_notifier("email", email_settings(server, cert))
    with pytest.raises(PermanentFailure, match="does not offer STARTTLS"):
        notifier.send(sample_message())
    # The credentials were never offered and no mail went out in clear text.
    assert server.recorder.auth_attempts == []
    assert server.recorder.delivered == []


def test_untrusted_certificate_is_permanent(mail_server: StartServer, cert: SelfSignedCert) -> None:
    server = mail_server("starttls")
    notifier = build_notifier("email", email_settings(server, cert, ca_file=None))
    with pytest.raises(PermanentFailure, match="certificate not trusted"):
        notifier.send(sample_message())
    assert server.recorder.auth_attempts == []
    assert server.recorder.delivered == []


def test_implicit_tls(mail_server: StartServer, cert: SelfSignedCert) -> None:
    server = mail_server("tls")
    build_notifier("email", email_settings(server, cert, security="tls")).send(sample_message())
    (got,) = server.recorder.delivered
    assert got.tls is True
    assert got.authenticated is True
    assert server.recorder.auth_attempts == [(USER, True)]


def test_clear_text_relay_on_loopback_without_credentials(
    mail_server: StartServer, cert: SelfSignedCert
) -> None:
    server = mail_server("plain")
    settings = email_settings(server, cert, security="none", username=None, password=None)
    build_notifier("email", settings).send(sample_message())
    (got,) = server.recorder.delivered
    assert got.tls is False
    assert server.recorder.auth_attempts == []


def test_wrong_password_is_permanent(mail_server: StartServer, cert: SelfSignedCert) -> None:
    server = mail_server("starttls")
    notifier = build_notifier("email", email_settings(server, cert, password="wrong"))
    with pytest.raises(PermanentFailure, match="login refused"):
        notifier.send(sample_message())
    assert server.recorder.delivered == []


@pytest.mark.parametrize(
    ("reply", "failure"),
    [("550 5.1.1 No such user", PermanentFailure), ("450 4.2.1 Mailbox busy", TemporaryFailure)],
)
def test_every_recipient_refused(
    mail_server: StartServer, cert: SelfSignedCert, reply: str, failure: type[Exception]
) -> None:
    server = mail_server("starttls", refuse={"it-duty@school.cn": reply, "head@school.cn": reply})
    with pytest.raises(failure, match="every recipient refused"):
        build_notifier("email", email_settings(server, cert)).send(sample_message())
    assert server.recorder.delivered == []


def test_one_recipient_refused_is_reported(mail_server: StartServer, cert: SelfSignedCert) -> None:
    server = mail_server("starttls", refuse={"head@school.cn": "550 5.1.1 No such user"})
    delivery = build_notifier("email", email_settings(server, cert)).send(sample_message())
    assert delivery.detail == "accepted for 1 of 2; refused: head@school.cn 550"
    assert server.recorder.delivered[0].rcpt_tos == ["it-duty@school.cn"]


def test_nothing_listening_is_temporary(cert: SelfSignedCert) -> None:
    settings = email_settings(MailServer(Recorder(), free_port()), cert)
    with pytest.raises(TemporaryFailure, match="ConnectionRefused"):
        build_notifier("email", settings).send(sample_message())
