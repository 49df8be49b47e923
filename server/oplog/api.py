"""``GET /api/v1/oplog?limit=&after=``: the log for auditors' scripts (admin and auditor tokens).

Every read is itself an entry (POLICY.md A1), written after the page is read so a reader sees
its own access on the next page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g
from flask.typing import ResponseReturnValue

from server.api import token_required
from server.apidoc import documented
from server.oplog import schemas
from server.oplog.chain import timestamp
from server.oplog.hook import record
from server.oplog.models import OplogEntry
from server.oplog.store import latest_checkpoint, read_head, read_page
from server.rest import read_query, reply
from server.state import db_session, refuse
from xunjian.core.schema import BodyError

blueprint = Blueprint("oplog", __name__)  # nested in the app's /api/v1 blueprint: "api.oplog"

READER_ROLES = ("admin", "auditor")


def entry_json(entry: OplogEntry) -> dict[str, Any]:
    """An entry with every hashed field exactly as stored, so a script can recompute hashes."""
    return {
        "seq": entry.seq,
        "at": timestamp(entry.at) + "Z",
        "actor": entry.actor,
        "role": entry.role,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "client_address": entry.client_address,
        "client_port": entry.client_port,
        "details": entry.details,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


@blueprint.get("/oplog")
@documented(
    "A page of the operation log after a sequence number (admin and auditor tokens)",
    auth="bearer",
    tags=["oplog"],
    query=schemas.OplogQuery,
    responses={200: schemas.OplogPage},
    errors={403: "the token's role may not read the log"},
    description="Every read is itself an entry, written after the page is read.",
)
@token_required
def read_log() -> ResponseReturnValue:
    owner = g.api_owner
    if owner.role not in READER_ROLES:
        reason = f"role {owner.role} may not read the operation log"
        record("oplog.read", outcome="refused", reason=f"403 {reason}")
        return refuse(403, f"{reason} ({owner.user_name})")
    try:
        query = read_query(schemas.OplogQuery)
    except BodyError as error:
        record("oplog.read", outcome="refused", reason=f"400 {error}"[:400])
        return refuse(400, str(error))
    limit, after = query.limit, query.after
    with db_session() as session:
        entries = [entry_json(entry) for entry in read_page(session, after, limit)]
        head = read_head(session.connection())
        checkpoint = latest_checkpoint(session)
        signed = (
            None
            if checkpoint is None
            else {
                "seq": checkpoint.seq,
                "hash": checkpoint.hash,
                "at": timestamp(checkpoint.at) + "Z",
                "kind": checkpoint.kind,
                "anchor_seq": checkpoint.anchor_seq,
                "anchor_hash": checkpoint.anchor_hash,
                "key_id": checkpoint.key_id,
                "signature": checkpoint.signature,
            }
        )
    record(
        "oplog.read",
        target=f"seq>{after}",
        details={"after": after, "limit": limit, "returned": len(entries)},
    )
    return reply(
        schemas.OplogPage,
        {
            "entries": entries,
            "next_after": entries[-1]["seq"] if entries else after,
            "head": None if head is None else {"seq": head.seq, "hash": head.hash},
            "checkpoint": signed,
        },
    )
