"""A school web site generated for the site health tests and bench/site_crawl.py: 500 pages in
four levels (home, sections, lists, articles) served over HTTPS on loopback by the standard
library's threaded server, with a certificate from a CA made here (``cryptography``), and a
second, plain HTTP server for an image that one HTTPS page loads (mixed content).

What is wrong with it, on purpose (``Planted``): 20 broken links (10 missing pages, 8 missing
attachments, a page that answers 500, an attachment that answers too slowly), a redirect loop,
a 30 MB page, a page with defacement words, an http:// image on an https:// page. ``robots.txt``
forbids ``/private/``, which a link points to and which does not exist. One attachment's server
refuses HEAD (405) and serves GET: it works. ``fix(n)`` makes the
first ``n`` missing targets exist.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SECTIONS = 10
LISTS_PER_SECTION = 7
PAGES = 500
BIG_BYTES = 30 * 1024 * 1024
SLOW_SECONDS = 6.0


def make_ca_and_leaf(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a leaf certificate it signed for 127.0.0.1: (ca.pem, leaf.pem, leaf.key)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xunjian test school CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Planted:
    """What the crawl must find, as paths (the test makes them URLs)."""

    broken: list[str] = field(default_factory=list)  # 20, in the order fix() repairs them
    broken_reasons: dict[str, str] = field(default_factory=dict)
    redirect_loop: str = "/loop/a"
    too_large: str = "/downloads/archive"
    defaced: str = ""
    mixed_image: str = "/banner.png"  # on the plain HTTP server
    mixed_page: str = ""


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{title}</title><link rel='stylesheet' href='/static/site.css'>"
        "<script src='/static/site.js'></script></head><body>"
        "<nav><a href='/'>首页 Home</a> <a href='/about.html'>About</a></nav>"
        f"<main>{body}</main><footer>© 示范学校</footer></body></html>"
    ).encode()


class SchoolSite:
    def __init__(self, folder: Path) -> None:
        self.ca, leaf, key = make_ca_and_leaf(folder)
        self.files: dict[str, tuple[int, bytes, str]] = {}
        self.planted = Planted()
        self.head_refused: set[str] = set()
        self.lock = threading.Lock()
        self.requests = 0
        self.big_bytes_sent = 0
        self.plain = _Server(self, tls=None)
        self.secure = _Server(self, tls=(leaf, key))
        self._build()

    # -- content ----------------------------------------------------------------------------
    def url(self, path: str = "/") -> str:
        return f"https://127.0.0.1:{self.secure.port}{path}"

    def plain_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.plain.port}{path}"

    def _put(self, path: str, body: bytes, kind: str = "text/html; charset=utf-8") -> None:
        self.files[path] = (200, body, kind)

    def _build(self) -> None:
        planted = self.planted
        missing_pages = [f"/news/2019/old-{n}.html" for n in range(10)]
        missing_files = [
            f"/uploads/notice-{n}.{ext}"
            for n, ext in enumerate(("doc", "pdf", "xls", "docx", "pdf", "zip", "pptx", "pdf"))
        ]
        planted.broken = (
            missing_pages[:3] + missing_files[:2] + missing_pages[3:] + missing_files[2:]
        )
        planted.broken += ["/cgi/report", "/uploads/slow-report.pdf"]
        for path in missing_pages + missing_files:
            planted.broken_reasons[path] = "404"
        planted.broken_reasons["/cgi/report"] = "500"
        planted.broken_reasons["/uploads/slow-report.pdf"] = "timeout"
        self.files["/cgi/report"] = (500, b"<h1>Internal Server Error</h1>", "text/html")
        self.files["/uploads/slow-report.pdf"] = (-1, b"%PDF-1.4", "application/pdf")
        self._put("/robots.txt", b"User-agent: *\nDisallow: /private/\n", "text/plain")
        self._put("/static/site.css", b"body{color:#222}", "text/css")
        self._put("/static/site.js", b"var x=1;", "application/javascript")
        self._put("/about.html", _page("About 关于我们", "<p>示范学校简介</p>"))
        self.files["/loop/a"] = (302, b"", "/loop/b")
        self.files["/loop/b"] = (302, b"", "/loop/a")
        self.files["/downloads/archive"] = (-2, b"", "text/html")
        self.plain.files = {"/banner.png": (200, b"\x89PNG....", "image/png")}

        lists = [(s, n) for s in range(SECTIONS) for n in range(LISTS_PER_SECTION)]
        articles = PAGES - 1 - SECTIONS - len(lists)
        per_list: dict[tuple[int, int], list[int]] = {key: [] for key in lists}
        for number in range(articles):
            per_list[lists[number % len(lists)]].append(number)
        # Where the planted faults sit: the article that carries each (some on two pages).
        extra: dict[int, list[str]] = {}
        for index, path in enumerate(planted.broken):
            text = "旧闻" if path.endswith(".html") else "附件下载"
            extra.setdefault(index * 17 % articles, []).append(
                f"<a href='{path}'>{text} {index}</a>"
            )
            if index % 4 == 0:  # the same broken link on a second page: checked once
                extra.setdefault((index * 17 + 200) % articles, []).append(
                    f"<a href='{path}'>{text} {index}</a>"
                )
        extra.setdefault(5, []).append("<a href='/loop/a'>循环</a>")
        extra.setdefault(6, []).append("<a href='/downloads/archive'>全部资料</a>")
        extra.setdefault(7, []).append("<a href='/private/secret.html'>内部</a>")
        # A server that refuses HEAD (405) but serves GET: not a broken link.
        self._put("/uploads/no-head.pdf", b"%PDF-1.4 served by GET only", "application/pdf")
        self.head_refused.add("/uploads/no-head.pdf")
        extra.setdefault(10, []).append("<a href='/uploads/no-head.pdf'>只能下载</a>")
        extra.setdefault(8, []).append(f"<img src='{self.plain_url('/banner.png')}' alt='横幅'>")
        defaced = 9

        self.carriers = set(extra)  # the articles that carry a planted fault
        self.article_paths: dict[int, str] = {}
        home_links = "".join(f"<li><a href='/s{s}/'>栏目 {s}</a></li>" for s in range(SECTIONS))
        self._put("/", _page("示范学校 Example School", f"<ul>{home_links}</ul>"))
        for section in range(SECTIONS):
            items = "".join(
                f"<li><a href='/s{section}/l{n}/'>列表 {n}</a></li>"
                for n in range(LISTS_PER_SECTION)
            )
            self._put(f"/s{section}/", _page(f"栏目 {section}", f"<ul>{items}</ul>"))
        for (section, n), numbers in per_list.items():
            items = "".join(
                f"<li><a href='/s{section}/l{n}/a{number}.html'>文章 {number}</a></li>"
                for number in numbers
            )
            self._put(f"/s{section}/l{n}/", _page(f"列表 {section}-{n}", f"<ul>{items}</ul>"))
            for number in numbers:
                path = f"/s{section}/l{n}/a{number}.html"
                self.article_paths[number] = path
                if number == 8:
                    planted.mixed_page = path
                attachment = f"/uploads/a{number}.pdf"
                self._put(attachment, b"%PDF-1.4 article", "application/pdf")
                words = "<p>Hacked by Anonymous 网站已被黑</p>" if number == defaced else ""
                if number == defaced:
                    planted.defaced = path
                body = (
                    f"<h1>文章 {number}</h1><p>本周教研活动安排。</p>{words}"
                    f"<p><a href='{attachment}'>附件 {number}</a> "
                    f"<a href='/s{section}/l{n}/'>返回列表</a></p>" + "".join(extra.get(number, []))
                )
                self._put(path, _page(f"文章 {number}", body))
        self.page_paths = {
            path
            for path, (status, _body, kind) in self.files.items()
            if status == 200 and kind.startswith("text/html")
        }

    def unpublish(self) -> str:
        """Take an article off the site (the page and its line in its list); its path."""
        number = next(n for n in range(100, PAGES) if n not in self.carriers)
        path = self.article_paths[number]
        del self.files[path]
        listing = path.rsplit("/", 1)[0] + "/"
        status, body, kind = self.files[listing]
        line = f"<li><a href='{path}'>文章 {number}</a></li>".encode()
        assert line in body
        self.files[listing] = (status, body.replace(line, b""), kind)
        return path

    def fix(self, count: int) -> list[str]:
        """Make the first ``count`` planted broken links work; the paths fixed."""
        fixed = self.planted.broken[:count]
        for path in fixed:
            if path.endswith(".html"):
                self._put(path, _page("旧闻", "<p>恢复的旧闻</p>"))
            else:
                self._put(path, b"restored attachment", "application/octet-stream")
        return fixed

    def close(self) -> None:
        self.secure.close()
        self.plain.close()


class _Server:
    def __init__(self, site: SchoolSite, tls: tuple[Path, Path] | None) -> None:
        self.files: dict[str, tuple[int, bytes, str]] = site.files
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                self._answer(body=True)

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def end_headers(self) -> None:
                # LinkChecker goes above 10 requests a second only to a server that names it
                # in a response header (its documentation): bench/site_crawl.py runs it at the
                # same pace as xunjian.
                self.send_header("LinkChecker", "xunjian-bench")
                super().end_headers()

            def _answer(self, body: bool) -> None:
                with site.lock:
                    site.requests += 1
                path = self.path.split("?", 1)[0]
                if not body and path in site.head_refused:
                    self.send_response(405)
                    self.send_header("Allow", "GET")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, data, kind = owner.files.get(
                    path, (404, b"<h1>404 Not Found</h1>", "text/html")
                )
                if status == -1:  # too slow: longer than the crawler's timeout
                    time.sleep(SLOW_SECONDS)
                    status = 200
                if status in (301, 302):
                    self.send_response(status)
                    self.send_header("Location", kind)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if status == -2:  # a very large page, streamed
                    self._stream_big(body)
                    return
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    # The client may have hung up (a crawler's timeout): nothing to answer.
                    with contextlib.suppress(OSError):
                        self.wfile.write(data)

            def _stream_big(self, body: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(BIG_BYTES))
                self.end_headers()
                if not body:
                    return
                chunk = b"<p>" + b"x" * 65_532 + b"</p>"[:1]
                sent = 0
                try:
                    while sent < BIG_BYTES:
                        self.wfile.write(chunk)
                        sent += len(chunk)
                        with site.lock:
                            site.big_bytes_sent += len(chunk)
                except OSError:
                    pass  # the crawler stopped reading: as it should

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
