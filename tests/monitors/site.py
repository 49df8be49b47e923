"""Real web servers on loopback for the monitor tests: the standard library's threaded HTTP
server, plain or wrapped in TLS with a certificate made here by ``cryptography`` (expired,
expiring soon, or fine). A test changes what a path serves while the server runs: a defaced
page, a 404, a slow answer."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Page:
    body: bytes
    status: int = 200
    delay: float = 0.0
    content_type: str = "text/html; charset=utf-8"
    location: str = ""


class Site:
    def __init__(self, certificate: tuple[Path, Path] | None = None) -> None:
        self.pages: dict[str, Page] = {}
        self.hits = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits += 1
                page = site.pages.get(self.path.split("?", 1)[0])
                if page is None:
                    page = Page(b"<html><body><h1>Not Found</h1></body></html>", status=404)
                if page.delay:
                    time.sleep(page.delay)
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                self.send_header("Content-Length", str(len(page.body)))
                if page.location:
                    self.send_header("Location", page.location)
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(certificate[0]), str(certificate[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: str | bytes, **options: object) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = Page(data, **options)  # type: ignore[arg-type]

    def remove(self, path: str) -> None:
        self.pages.pop(path, None)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_certificate(
    folder: Path, not_before: datetime.datetime, not_after: datetime.datetime
) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 valid between the two times; (cert, key)."""
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "site.pem", folder / "site.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


HOME = """<!doctype html>
<html><head><title>示范学校 Example School</title>
<link rel="stylesheet" href="/static/site.css">
<script src="/static/app.js"></script>
<style>body { color: #222 }</style>
</head><body>
<header><h1>示范学校</h1><nav><a href="/news">新闻</a> <a href="/about">About us</a></nav></header>
<main>
<p>欢迎访问示范学校网站。Welcome to the Example School.</p>
<p>本周教研活动安排已发布，请各教研组按时参加。</p>
<ul><li>一年级家长会：周三下午</li><li>运动会报名截止：周五</li><li>图书馆开放时间调整</li></ul>
<p class="note">Contact the office at extension 8001.</p>
<div id="counter">访问量：{visits}</div>
<p class="updated">更新时间：{stamp}</p>
</main>
<footer>© 示范学校 <a href="https://www.moe.gov.cn/">教育部</a></footer>
<script>var visits = {visits};</script>
</body></html>
"""


def home(visits: int = 1024, stamp: str = "2026-11-23 08:00") -> str:
    return HOME.replace("{visits}", str(visits)).replace("{stamp}", stamp)


DEFACED = """<!doctype html>
<html><head><title>Hacked by Anonymous</title></head><body>
<h1>Hacked by Anonymous</h1><p>Your security is a joke.</p>
<p>greetz to all</p>
</body></html>
"""
