"""Shared pieces for the notifier tests: a sample alert, a throwaway self-signed certificate
(made with ``cryptography``), and a real HTTP(S) receiver on loopback that records what it was
sent and answers as scripted. Nothing here talks to anything but 127.0.0.1."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import ssl
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.notify import AlertKind, AlertMessage, LocalText, NoticeKind, Severity

CHINA = datetime.timezone(datetime.timedelta(hours=8))


def sample_message(**changes: Any) -> AlertMessage:
    values: dict[str, Any] = {
        "alert_id": "al-42",
        "kind": AlertKind.DEFAULT_CREDENTIAL,
        "severity": Severity.CRITICAL,
        "title": LocalText("默认密码未修改", "Default password unchanged"),
        "body": LocalText(
            "交换机 sw-3 仍接受出厂密码 admin/admin,请立即修改。",
            "Switch sw-3 still accepts the factory password admin/admin; change it now.",
        ),
        "subject": "sw-3 (10.0.3.1)",
        "opened_at": datetime.datetime(2026, 11, 23, 10, 0, 0, tzinfo=CHINA),
        "console_url": "https://xunjian.school.cn/console/alerts/al-42",
    }
    values.update(changes)
    return AlertMessage(**values)


def sample_digest() -> AlertMessage:
    """The daily page digest as server/monitors/digest.py composes it: a notice, not an alert."""
    return AlertMessage(
        alert_id="digest-2026-11-23",
        kind=NoticeKind.DIGEST,
        severity=Severity.INFO,
        title=LocalText("页面巡检 2026-11-23", "Page checks 2026-11-23"),
        body=LocalText(
            "共检查 2 个页面，1 个需要关注，未关闭告警 1 条。\n- 新闻 (https://www.school.cn/news)：故障",
            "2 pages checked, 1 need attention, 1 monitor alerts open.\n- news: down",
        ),
        subject="页面监控 / page monitors",
        opened_at=datetime.datetime(2026, 11, 23, 8, 30, 0, tzinfo=CHINA),
    )


@dataclass(frozen=True)
class SelfSignedCert:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def make_self_signed_cert(folder: Path) -> SelfSignedCert:
    """A certificate for 127.0.0.1 and localhost that no system trusts: a client must be told
    (ca_file) to accept it, which is what the tests prove."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xunjian notifier test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file = folder / "cert.pem"
    key_file = folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return SelfSignedCert(cert_file, key_file)


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it, bytes untouched."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def raw_query(self) -> str:
        return urlsplit(self.target).query

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.raw_query, keep_blank_values=True)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0


Responder = Callable[[Received], Reply]


class Receiver:
    """A real HTTP(S) server in a thread on 127.0.0.1; ``responder`` decides each answer."""

    def __init__(self, responder: Responder, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Received] = []
        self.responder = responder
        self._stop = threading.Event()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received = Received(
                    self.command,
                    self.path,
                    {key.lower(): value for key, value in self.headers.items()},
                    self.rfile.read(length),
                )
                receiver.requests.append(received)
                reply = receiver.responder(received)
                if reply.delay_seconds:
                    # Wait, but let teardown cut the wait short.
                    receiver._stop.wait(reply.delay_seconds)
                body = reply.body
                if isinstance(body, dict):
                    body = json.dumps(body).encode()
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (the timeout tests); nothing to answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        # A short poll interval so shutdown() at teardown does not wait half a second.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_self_signed_cert_names_loopback(tmp_path: Path) -> None:
    cert = make_self_signed_cert(tmp_path)
    loaded = x509.load_pem_x509_certificate(cert.cert_file.read_bytes())
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]


def test_receiver_records_and_answers() -> None:
    server = Receiver(lambda request: Reply(201, {"seen": len(request.body)}))
    try:
        _post_hello(server)
    finally:
        server.close()
    assert server.requests[0].query == {"a": ["1"]}
    assert server.requests[0].body == b"hello"


def _post_hello(server: Receiver) -> None:
    request = urllib.request.Request(f"{server.base_url}/x?a=1", data=b"hello", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as response:
        assert response.status == 201
        assert json.loads(response.read()) == {"seen": 5}
