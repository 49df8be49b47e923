"""Fixtures for the server's tests: a data folder made by the real ``xunjian server init`` on
each database of the shared ``database_url`` fixture (tests/conftest.py), the Flask app built
from it, and enrolled agents that sign their requests for real.

The data folder is a copy of one made once per session (tests/data_folder.py); tests marked
``real_server_init`` (the tests of init itself) get their own ``server init``."""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from server.app import create_app
from server.state import ServerState, current_state
from server.store.agents import create_enrollment_token
from tests.data_folder import DataFolderTemplates, init_data_folder, run_xunjian
from xunjian.core.contract import PATH_ENROLL, PATH_HEARTBEAT, PATH_POLICY, PATH_REPORTS
from xunjian.core.wire import public_key_to_text, sign_request


@dataclass
class Server:
    data: Path
    app: Flask
    admin_password: str
    init_output: str

    @property
    def state(self) -> ServerState:
        with self.app.app_context():
            return current_state()

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def enrollment_token(
        self,
        uses: int = 1,
        lifetime: datetime.timedelta = datetime.timedelta(hours=1),
        group: str = "default",
    ) -> str:
        with self.state.sessions() as session:
            token = create_enrollment_token(session, group, uses, lifetime)
            session.commit()
        return token

    def enroll(self, hostname: str = "pc-101", group: str = "default") -> SignedAgent:
        agent = SignedAgent(self, Ed25519PrivateKey.generate(), "")
        answer = agent.enroll(self.enrollment_token(group=group), hostname)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        agent.agent_id = answer.get_json()["agent_id"]
        return agent


@dataclass
class SignedAgent:
    """An agent identity whose requests are signed with ``xunjian.core.wire`` like the real one."""

    server: Server
    key: Ed25519PrivateKey
    agent_id: str
    epoch: int = 1_700_000_000_000
    next_seq: int = field(default=1)
    signed_before: set[tuple[str, str, bytes, int]] = field(default_factory=set)

    def enroll(self, token: str, hostname: str = "pc-101") -> TestResponse:
        payload = {
            "token": token,
            "public_key": public_key_to_text(self.key.public_key()),
            "hostname": hostname,
            "platform": "linux",
            "os": "Debian GNU/Linux 12",
            "agent_version": "0.1.0",
        }
        return self.server.client().post(PATH_ENROLL, json=payload)

    def signed_headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        headers = sign_request(self.key, method, path, self.agent_id, body).as_dict()
        return {**headers, "Content-Type": "application/json"}

    def signed(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        sent_at: int | None = None,
        agent_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        who = agent_id or self.agent_id
        if sent_at is None:
            # The server takes a signature once (a replay within the window is refused), and
            # the same request signed again in the same second is the same signature: sign a
            # repeat a second later, as a real agent's repeats are apart.
            sent_at = int(time.time())
            while (method, path, body, sent_at) in self.signed_before:
                sent_at += 1
            self.signed_before.add((method, path, body, sent_at))
        signed = sign_request(self.key, method, path, who, body, sent_at).as_dict()
        signed.update(headers or {})
        return self.server.client().open(
            path,
            method=method,
            data=body,
            headers={**signed, "Content-Type": "application/json"},
        )

    def report(self, seq: int | None = None, **changes: Any) -> dict[str, Any]:
        if seq is None:
            seq, self.next_seq = self.next_seq, self.next_seq + 1
        document: dict[str, Any] = {
            "agent_id": self.agent_id,
            "epoch": self.epoch,
            "seq": seq,
            "kind": "scan",
            "created_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "policy_version": 1,
            "results": sample_results(),
            "inventory": {"hostname": "pc-101", "os": "Debian GNU/Linux 12", "addresses": []},
            "gaps": [],
        }
        document.update(changes)
        return document

    def send_report(self, document: dict[str, Any], **options: Any) -> TestResponse:
        return self.signed("POST", PATH_REPORTS, json.dumps(document).encode(), **options)

    def policy(self) -> TestResponse:
        return self.signed("GET", PATH_POLICY)

    def heartbeat(self, acked: list[str] | None = None) -> TestResponse:
        beat = {
            "spool_depth": 0,
            "last_seq": self.next_seq - 1,
            "epoch": self.epoch,
            "policy_version": 1,
            "acked_commands": acked or [],
        }
        return self.signed("POST", PATH_HEARTBEAT, json.dumps(beat).encode())


def sample_results(count: int = 3) -> list[dict[str, Any]]:
    statuses = ["fail", "pass", "not_applicable"]
    return [
        {
            "check_id": f"test.check_{index}",
            "status": statuses[index % 3],
            "resource": "host" if index else "user:toor",
            "message": f"result {index}",
            "evidence": {"index": index},
            "rules": ["E8"],
            "severity": "high",
        }
        for index in range(count)
    ]


def apply_settings(data: Path, settings: dict[str, Any]) -> None:
    """Write ``settings`` into the data folder's config.json, as an admin would."""
    if not settings:
        return
    path = data / "config.json"
    config = json.loads(path.read_text())
    config.update(settings)
    path.write_text(json.dumps(config, indent=2))  # the file keeps its 0600


@pytest.fixture
def server(
    tmp_path: Path,
    database_url: str,
    data_folder_templates: DataFolderTemplates,
    request: pytest.FixtureRequest,
    server_settings: dict[str, Any],
) -> Iterator[Server]:
    data = tmp_path / "server"
    if request.node.get_closest_marker("real_server_init"):
        output, password = init_data_folder(data, database_url)
    else:
        output, password = data_folder_templates.copy(data, database_url)
    apply_settings(data, server_settings)
    app = create_app(data)
    app.config["TESTING"] = True
    yield Server(data, app, password, output)
    # Close every connection before the PostgreSQL schema is dropped.
    app.extensions["xunjian"].engine.dispose()


@pytest.fixture
def agent(server: Server) -> SignedAgent:
    return server.enroll()


def unknown_agent_id() -> str:
    return str(uuid.uuid4())


__all__ = ["init_data_folder", "run_xunjian"]  # imported from here by test files
