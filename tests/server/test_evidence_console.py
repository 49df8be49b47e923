"""Evidence on the server, in process: an archive uploaded by a signing agent identity is
listed on the host's Evidence page (linked from the host page), downloadable by every role with
its manifest, and by the command line; "Take evidence now" queues the command for operators and
admins only; every list, view and download is an operation log entry (POLICY.md A1, A2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from server.oplog.models import OplogEntry
from tests.server.conftest import Server, SignedAgent
from tests.server.test_console import csrf_from
from tests.server.test_fleet import page, person
from xunjian.cli import main
from xunjian.core.contract import PATH_EVIDENCE, evidence_chunk_path
from xunjian.core.evidence import Part, build_archive, canonical, verify_bytes, verify_manifest

SNAPSHOT = "5e7d9c1a-2222-4333-8444-555566667777"


def _upload(server: Server, agent: SignedAgent) -> bytes:
    fields = {
        "snapshot_id": SNAPSHOT,
        "agent_id": agent.agent_id,
        "hostname": "pc-101",
        "taken_at": "2026-12-07T07:00:00Z",
        "reason": "web shell alert",
        "command_id": None,
    }
    archive, _ = build_archive(
        fields,
        [Part("processes.json", b"[]"), Part("errors.json", b"{}")],
        agent.key,
        1_765_090_800,
    )
    start = json.dumps(
        {"id": SNAPSHOT, "size": len(archive), "sha256": hashlib.sha256(archive).hexdigest()}
    ).encode()
    assert agent.signed("POST", PATH_EVIDENCE, start).status_code == 200
    path = evidence_chunk_path(SNAPSHOT, 0)
    headers = agent.signed_headers("PUT", path, archive)
    headers["Content-Type"] = "application/octet-stream"
    answer = server.client().put(path, data=archive, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["complete"] is True, answer.get_data()
    return archive


def _entries(server: Server, action: str) -> list[tuple[str, str, str]]:
    with server.state.sessions() as session:
        rows = session.execute(
            select(OplogEntry.actor, OplogEntry.outcome, OplogEntry.target)
            .where(OplogEntry.action == action)
            .order_by(OplogEntry.seq)
        ).all()
    return [(a, o, t) for a, o, t in rows]


def test_the_evidence_pages_downloads_and_commands(
    server: Server, agent: SignedAgent, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = _upload(server, agent)
    operator = person(server, "olga", "operator")
    auditor = person(server, "audrey", "auditor")
    host_page = page(auditor, f"/hosts/{agent.agent_id}")
    evidence_path = f"/hosts/{agent.agent_id}/evidence"
    assert f'href="{evidence_path}"' in host_page
    listed = page(auditor, evidence_path)
    assert hashlib.sha256(archive).hexdigest() in listed
    assert f"/evidence/{SNAPSHOT}/archive" in listed
    assert "Take evidence now" not in listed
    assert "Take evidence now" in page(operator, evidence_path)
    assert 'action="/hosts/' not in listed  # auditors may read, not ask for a snapshot

    downloaded = auditor.get(f"/evidence/{SNAPSHOT}/archive")
    assert downloaded.status_code == 200 and downloaded.get_data() == archive
    assert verify_bytes(downloaded.get_data(), agent.key.public_key()).snapshot_id == SNAPSHOT
    manifest = auditor.get(f"/evidence/{SNAPSHOT}/manifest").get_json()
    verify_manifest(
        canonical(manifest["manifest"]), canonical(manifest["signature"]), agent.key.public_key()
    )
    assert auditor.get("/evidence/5e7d9c1a-2222-4333-8444-000000000000/archive").status_code == 404

    assert (
        auditor.post(
            evidence_path, data={"csrf_token": csrf_from(auditor, evidence_path)}
        ).status_code
        == 403
    )
    answer = operator.post(evidence_path, data={"csrf_token": csrf_from(operator, evidence_path)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith("?queued=1")
    assert [c["type"] for c in agent.heartbeat().get_json()["commands"]] == ["evidence"]

    # The command line, on the server's host: list and download, both logged.
    assert main(["server", "evidence", "list", "--data", str(server.data), "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert item["id"] == SNAPSHOT and item["complete"] and item["key_id"]
    out = tmp_path / "out"
    assert (
        main(
            [
                "server",
                "evidence",
                "download",
                SNAPSHOT,
                "--out",
                str(out),
                "--data",
                str(server.data),
            ]
        )
        == 0
    )
    assert (out / f"evidence-{SNAPSHOT}.tar").read_bytes() == archive
    saved = json.loads((out / f"evidence-{SNAPSHOT}.manifest.json").read_text())
    assert saved["manifest"] == manifest["manifest"]
    assert main(["evidence", "verify", str(out / f"evidence-{SNAPSHOT}.tar")]) == 0

    target = f"evidence:{SNAPSHOT}"
    host = f"host:{agent.agent_id}"
    assert _entries(server, "evidence.stored") == [(f"agent:{agent.agent_id}", "ok", target)]
    # Every look at the list: each person twice (the page, then again for its form), and the
    # command line once.
    lists = _entries(server, "evidence.list")
    people = [(actor, target) for actor, _, target in lists if not actor.startswith("cli:")]
    assert people == [("audrey", host), ("olga", host), ("audrey", host), ("olga", host)]
    assert [target for actor, _, target in lists if actor.startswith("cli:")] == ["evidence"]
    downloads = _entries(server, "evidence.download")
    assert [(a, o) for a, o, _ in downloads][:2] == [
        ("audrey", "ok"),
        ("audrey", "refused"),
    ]
    assert downloads[2][0].startswith("cli:") and downloads[2][2] == target
    assert _entries(server, "evidence.manifest") == [("audrey", "ok", target)]
    assert ("audrey", "refused", host) in _entries(server, "console.command.create")
