"""The console's evidence pages: a host's snapshots (linked from the host page) with a button
that asks its agent for one now, and each snapshot's archive and manifest for download. Every
view and download is an operation log entry (POLICY.md A1, A2)."""

from __future__ import annotations

import json

from flask import Response, abort, g, redirect, render_template, send_file, url_for
from flask.typing import ResponseReturnValue

from server.console.auth import console_blueprint, login_required
from server.evidence import store
from server.oplog.hook import record
from server.state import current_state, db_session, events, log_refusal
from server.store.agents import queue_command
from server.store.models import Agent, User
from xunjian.core.contract import COMMAND_EVIDENCE, EVIDENCE_MEDIA_TYPE

blueprint = console_blueprint("evidence", __name__)
COMMAND_ROLES = ("admin", "operator")
PER_PAGE = 100


def _reader(action: str, target: str) -> User:
    user: User = g.user
    if user.role not in store.READ_ROLES:
        log_refusal(403, f"console user {user.name!r} ({user.role}) may not read evidence")
        record(action, outcome="refused", reason="HTTP 403", target=target)
        abort(403)
    return user


@blueprint.get("/hosts/<host_id>/evidence")
@login_required
def host_evidence(host_id: str) -> ResponseReturnValue:
    user = _reader("evidence.list", f"host:{host_id[:36]}")
    with db_session() as session:
        host = session.get(Agent, host_id) if len(host_id) <= 36 else None
        if host is None:
            abort(404)
        rows = store.list_snapshots(session, host_id, PER_PAGE)
    record("evidence.list", target=f"host:{host_id}", details={"count": len(rows)})
    return render_template(
        "evidence/host.html",
        host=host,
        rows=rows,
        can_command=user.role in COMMAND_ROLES and host.revoked_at is None,
    )


@blueprint.post("/hosts/<host_id>/evidence")
@login_required
def take_evidence(host_id: str) -> ResponseReturnValue:
    """Queue an ``evidence`` command for the host's next heartbeat."""
    user: User = g.user
    target = f"host:{host_id[:36]}"
    if user.role not in COMMAND_ROLES:
        log_refusal(403, f"console user {user.name!r} ({user.role}) may not queue commands")
        record("console.command.create", outcome="refused", reason="HTTP 403", target=target)
        abort(403)
    with db_session() as session:
        host = session.get(Agent, host_id) if len(host_id) <= 36 else None
        if host is None or host.revoked_at is not None:
            code = 404 if host is None else 409
            record(
                "console.command.create", outcome="refused", reason=f"HTTP {code}", target=target
            )
            abort(code)
        command = queue_command(session, host_id, COMMAND_EVIDENCE, user.id)
        session.commit()
    record(
        "console.command.create",
        target=target,
        details={"type": COMMAND_EVIDENCE, "command": command.id},
    )
    events.info("user %s queued evidence for host %s (command %s)", user.name, host_id, command.id)
    return redirect(url_for("evidence.host_evidence", host_id=host_id, queued=1))


@blueprint.get("/evidence/<snapshot_id>/archive")
@login_required
def archive(snapshot_id: str) -> ResponseReturnValue:
    target = f"evidence:{snapshot_id[:36]}"
    _reader("evidence.download", target)
    try:
        with db_session() as session:
            row, _ = store.get_snapshot(session, snapshot_id)
        path = store.archive_file(current_state().paths.root, row)
    except store.EvidenceMissing:
        record("evidence.download", outcome="refused", reason="HTTP 404", target=target)
        abort(404)
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


@blueprint.get("/evidence/<snapshot_id>/manifest")
@login_required
def manifest(snapshot_id: str) -> ResponseReturnValue:
    target = f"evidence:{snapshot_id[:36]}"
    _reader("evidence.manifest", target)
    try:
        with db_session() as session:
            row, _ = store.get_snapshot(session, snapshot_id)
            key = store.agent_public_key(session, row.agent_id)
        document = store.manifest_document(current_state().paths.root, row, key)
    except store.EvidenceMissing:
        record("evidence.manifest", outcome="refused", reason="HTTP 404", target=target)
        abort(404)
    record("evidence.manifest", target=target, details={"host": row.agent_id})
    response = Response(
        json.dumps(document, ensure_ascii=False, indent=1), mimetype="application/json"
    )
    response.headers["Content-Disposition"] = (
        f'attachment; filename="evidence-{row.id}.manifest.json"'
    )
    return response
