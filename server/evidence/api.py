"""``/api/v1/evidence``: evidence snapshots the agents uploaded, their manifests and archives
(every role may read, POLICY.md A2; every read, allowed or refused, is an operation log entry,
A1). Taking one is ``POST /api/v1/hosts/<id>/commands {"type": "evidence"}``."""

from __future__ import annotations

from flask import Blueprint, jsonify, send_file
from flask.typing import ResponseReturnValue

from server.apidoc import documented
from server.evidence import schemas, store
from server.oplog.hook import record
from server.rest import read_query, reply
from server.state import current_state, db_session, refuse
from xunjian.core.contract import EVIDENCE_MEDIA_TYPE

_TAGS = ["evidence"]


def make_blueprint() -> Blueprint:
    """These views as a blueprint nested in the app's ``/api/v1`` (server/api.py)."""
    from server.api import token_required

    blueprint = Blueprint("evidence", __name__)
    blueprint.add_url_rule("/evidence", "list", token_required(list_evidence), methods=["GET"])
    blueprint.add_url_rule(
        "/evidence/<snapshot_id>", "one", token_required(one_evidence), methods=["GET"]
    )
    blueprint.add_url_rule(
        "/evidence/<snapshot_id>/manifest",
        "manifest",
        token_required(evidence_manifest),
        methods=["GET"],
    )
    blueprint.add_url_rule(
        "/evidence/<snapshot_id>/archive",
        "archive",
        token_required(evidence_archive),
        methods=["GET"],
    )
    return blueprint


def _allowed(action: str, target: str) -> ResponseReturnValue | None:
    from server.api import owner

    who = owner()
    if who.role in store.READ_ROLES:
        return None
    record(action, outcome="refused", reason="HTTP 403", target=target)
    return refuse(403, f"role {who.role} may not read evidence ({who.user_name})")


def _missing(action: str, target: str, reason: str) -> ResponseReturnValue:
    record(action, outcome="refused", reason="HTTP 404", target=target)
    return jsonify({"error": reason}), 404


@documented(
    "Evidence snapshots, newest first (every read is logged)",
    auth="bearer",
    tags=_TAGS,
    query=schemas.EvidenceQuery,
    responses={200: schemas.EvidenceList},
)
def list_evidence() -> ResponseReturnValue:
    refused = _allowed("evidence.list", "evidence")
    if refused is not None:
        return refused
    query = read_query(schemas.EvidenceQuery)
    with db_session() as session:
        rows = store.list_snapshots(session, query.host, query.limit)
    record("evidence.list", target="evidence", details={"host": query.host, "count": len(rows)})
    return reply(
        schemas.EvidenceList,
        {"evidence": [store.snapshot_json(row, hostname) for row, hostname in rows]},
    )


@documented(
    "One evidence snapshot with its parts (every read is logged)",
    auth="bearer",
    tags=_TAGS,
    responses={200: schemas.EvidenceItem},
)
def one_evidence(snapshot_id: str) -> ResponseReturnValue:
    target = f"evidence:{snapshot_id[:36]}"
    refused = _allowed("evidence.read", target)
    if refused is not None:
        return refused
    try:
        with db_session() as session:
            row, hostname = store.get_snapshot(session, snapshot_id)
    except store.EvidenceMissing as exc:
        return _missing("evidence.read", target, str(exc))
    record("evidence.read", target=target, details={"host": row.agent_id})
    return reply(schemas.EvidenceItem, store.snapshot_json(row, hostname))


@documented(
    "A snapshot's signed manifest (every read is logged)",
    auth="bearer",
    tags=_TAGS,
    responses={200: schemas.EvidenceManifest},
    description="The manifest and signature as the archive holds them, and the agent's "
    "enrolled public key; the archive itself is at .../archive.",
)
def evidence_manifest(snapshot_id: str) -> ResponseReturnValue:
    target = f"evidence:{snapshot_id[:36]}"
    refused = _allowed("evidence.manifest", target)
    if refused is not None:
        return refused
    data = current_state().paths.root
    try:
        with db_session() as session:
            row, _ = store.get_snapshot(session, snapshot_id)
            key = store.agent_public_key(session, row.agent_id)
        document = store.manifest_document(data, row, key)
    except store.EvidenceMissing as exc:
        return _missing("evidence.manifest", target, str(exc))
    record("evidence.manifest", target=target, details={"host": row.agent_id})
    return reply(schemas.EvidenceManifest, document)


@documented(
    "Download a snapshot's archive (every download is logged)",
    auth="bearer",
    tags=_TAGS,
    responses={200: EVIDENCE_MEDIA_TYPE},
    description="A tar file; check it offline with `xunjian evidence verify FILE`.",
)
def evidence_archive(snapshot_id: str) -> ResponseReturnValue:
    target = f"evidence:{snapshot_id[:36]}"
    refused = _allowed("evidence.download", target)
    if refused is not None:
        return refused
    data = current_state().paths.root
    try:
        with db_session() as session:
            row, _ = store.get_snapshot(session, snapshot_id)
        path = store.archive_file(data, row)
    except store.EvidenceMissing as exc:
        return _missing("evidence.download", target, str(exc))
    record(
        "evidence.download",
        target=target,
        details={"host": row.agent_id, "sha256": row.sha256, "size": row.size},
    )
    return send_file(
        path,
        mimetype=EVIDENCE_MEDIA_TYPE,
        as_attachment=True,
        download_name=f"evidence-{row.id}.tar",
        max_age=0,
    )
