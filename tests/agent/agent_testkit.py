"""Real things for the agent's tests: a throwaway CA made with ``cryptography`` and a small
HTTPS server (stdlib ``http.server`` + ``ssl``) on 127.0.0.1 that records what it receives.

The server is a stand-in for the product's server only in what it answers (the tests script
the answers); the TLS, the HTTP and the bytes on the loopback wire are all real.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.state import AgentState


@dataclass(frozen=True)
class ThrowawayCA:
    cert_pem: bytes
    server_cert_pem: bytes
    server_key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(
    common_name: str = "xunjian test CA", server_names: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> ThrowawayCA:
    """A CA and a server certificate it issued for ``server_names`` (IPs or DNS names)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in server_names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("xunjian test server"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ThrowawayCA(
        cert_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        server_cert_pem=server_cert.public_bytes(serialization.Encoding.PEM),
        server_key_pem=server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, value: Any) -> Reply:
        return cls(status, json.dumps(value).encode())


Route = Callable[[Received], Reply]


@dataclass
class LoopbackServer:
    """HTTPS on 127.0.0.1 and a free port; ``route`` decides each answer."""

    ca: ThrowawayCA
    tmp: Path
    route: Route = field(default=lambda request: Reply.json(404, {"error": "no route"}))
    received: list[Received] = field(default_factory=list)
    # Close each connection right after its answer, without TLS close_notify and without
    # saying "Connection: close": what a real server does to a keep-alive connection that
    # stayed idle past its timeout (the client learns only at its next request).
    drop_idle_connections: bool = False
    _httpd: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def requests_to(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path.split("?")[0] == path]

    def start(self) -> LoopbackServer:
        cert = self.tmp / "server-cert.pem"
        key = self.tmp / "server-key.pem"
        cert.write_bytes(self.ca.server_cert_pem + self.ca.cert_pem)
        key.write_bytes(self.ca.server_key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like the real server

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Received(self.command, self.path, dict(self.headers.items()), body)
                owner.received.append(request)
                reply = owner.route(request)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                if owner.drop_idle_connections:
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

            do_GET = _handle
            do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@dataclass
class ScriptedApi:
    """The agent API's answers per docs/architecture.md, scripted for the agent's tests.

    It checks every signed request with ``xunjian.core.wire`` (a bad one gets 401, as the real
    server does), stores reports once per ``(agent_id, epoch, seq)`` and hands out commands
    until they are acknowledged. Tests flip ``report_status`` or ``policy`` to provoke the agent.
    """

    ca_pem: bytes
    token: str = "tok-123"
    agent_id: str = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    public_key: str | None = None
    policy: dict[str, Any] = field(
        default_factory=lambda: {
            "version": 3,
            "group": "default",
            "checks": {"accounts.uid0_extra": {"enabled": False, "params": {}}},
            "schedules": {"scan_interval_seconds": 3600, "heartbeat_interval_seconds": 60},
            "approved": {"users": [], "software": []},
        }
    )
    report_status: int | None = None  # None: the normal 200; else answer this status
    stored: dict[tuple[str, int, int], dict[str, Any]] = field(default_factory=dict)
    duplicates: int = 0
    commands: list[dict[str, Any]] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    signature_failures: list[str] = field(default_factory=list)
    # The server's command key the heartbeat answer carries (None: a server without one).
    command_key: str | None = None

    def __call__(self, request: Received) -> Reply:
        path = request.path
        if path == "/api/v1/agent/ca" and request.method == "GET":
            return Reply(200, self.ca_pem, "application/x-pem-file")
        if path == "/api/v1/agent/enroll" and request.method == "POST":
            body = request.json()
            if body.get("token") != self.token:
                return Reply.json(401, {"error": "enrollment token refused"})
            self.public_key = body["public_key"]
            return Reply.json(201, {"agent_id": self.agent_id, "group": "default"})
        problem = self._signature_problem(request)
        if problem:
            self.signature_failures.append(problem)
            return Reply.json(401, {"error": problem})
        if path == "/api/v1/agent/policy" and request.method == "GET":
            return Reply.json(200, self.policy)
        if path == "/api/v1/agent/reports" and request.method == "POST":
            if self.report_status is not None:
                return Reply.json(self.report_status, {"error": "scripted refusal"})
            report = request.json()
            key = (report["agent_id"], report["epoch"], report["seq"])
            if key in self.stored:
                self.duplicates += 1
                return Reply.json(200, {"stored": False, "duplicate": True})
            self.stored[key] = report
            return Reply.json(200, {"stored": True})
        if path == "/api/v1/agent/heartbeat" and request.method == "POST":
            beat = request.json()
            self.heartbeats.append(beat)
            self.acked += beat.get("acked_commands", [])
            pending = [c for c in self.commands if c["id"] not in self.acked]
            answer: dict[str, Any] = {"policy_version": self.policy["version"], "commands": pending}
            if self.command_key is not None:
                answer["command_key"] = self.command_key
            return Reply.json(200, answer)
        return Reply.json(404, {"error": f"no route {request.method} {path}"})

    def _signature_problem(self, request: Received) -> str | None:
        from xunjian.core import wire

        if self.public_key is None:
            return "no agent enrolled"
        try:
            sent_at = wire.parse_sent_at(request.headers.get(wire.HEADER_TIME))
            wire.check_freshness(sent_at)
            if request.headers.get(wire.HEADER_AGENT) != self.agent_id:
                return "unknown agent"
            wire.verify_request(
                wire.public_key_from_text(self.public_key),
                request.method,
                request.path,
                self.agent_id,
                sent_at,
                request.headers.get(wire.HEADER_SIGNATURE),
                request.body,
            )
        except wire.SignatureError as exc:
            return str(exc)
        return None

    @property
    def reports(self) -> list[dict[str, Any]]:
        return [self.stored[key] for key in sorted(self.stored)]


def act_at_once(state: AgentState, **settings: Any) -> None:
    """The documented test tuning of an enrolled agent's agent.json: its jobs act at once, not
    after a random start delay, and flush often; ``settings`` adds or overrides more."""
    config = json.loads(state.config_path.read_text())
    tuning = {"start_delay_max_seconds": 0, "flush_interval_seconds": 0.5, "job_jitter_seconds": 0}
    config.update({**tuning, **settings})
    state.config_path.write_text(json.dumps(config))
