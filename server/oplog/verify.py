"""Verification of the whole log: every link, every hash, every checkpoint signature.

With the anchor file (``DATA/oplog-anchors.jsonl``, every signed checkpoint appended as it was
made) it also catches what the database alone cannot show: newest entries deleted with their
checkpoints and the head set back, or the whole log emptied and reset to genesis. Every signed
anchor line after the purge anchor must still name an entry with that hash, and the file must
exist once the log has checkpoints.

Runs inside one snapshot of the database (REPEATABLE READ on PostgreSQL, one read transaction
on SQLite), so a server appending meanwhile cannot make an intact log look broken. Stops at the
first problem and names the entry; an auditor can run it on a copy of the database with only
the public key (``--public-key``), without the server.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from server.oplog.chain import GENESIS_HASH, row_hash
from server.oplog.models import OplogCheckpoint, OplogEntry
from server.oplog.signing import CheckpointClaim, claim_is_signed, key_id, read_anchors
from server.oplog.store import read_head

BATCH = 1000


class Broken(Exception):
    """The first problem found; ``seq`` is the entry it names (None for a checkpoint alone)."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


@dataclass(frozen=True)
class CheckpointSummary:
    seq: int
    at: str
    kind: str
    key_id: str


@dataclass(frozen=True)
class Verdict:
    entries: int
    first_seq: int | None
    last_seq: int
    anchor_seq: int
    last_checkpoint: CheckpointSummary | None
    problem: str | None = None
    bad_seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _claim(checkpoint: OplogCheckpoint) -> CheckpointClaim:
    return CheckpointClaim(
        seq=checkpoint.seq,
        hash=checkpoint.hash,
        at=checkpoint.at,
        kind=checkpoint.kind,
        anchor_seq=checkpoint.anchor_seq,
        anchor_hash=checkpoint.anchor_hash,
        key_id=checkpoint.key_id,
    )


def _check_signatures(
    checkpoints: list[OplogCheckpoint], public_key: Ed25519PublicKey | None
) -> None:
    expected_id = key_id(public_key) if public_key is not None else None
    for checkpoint in checkpoints:
        where = f"checkpoint {checkpoint.id} (entry {checkpoint.seq})"
        if public_key is None:
            raise Broken(f"{where} cannot be checked: no public key (oplog-signing.pub)")
        if checkpoint.key_id != expected_id:
            raise Broken(f"{where} names another signing key ({checkpoint.key_id[:16]}...)")
        if not claim_is_signed(public_key, _claim(checkpoint), checkpoint.signature):
            raise Broken(f"{where}: the signature does not verify (forged or altered)")


def _entries(session: Session) -> Iterator[OplogEntry]:
    """All entries in order, a batch at a time (keyset paging: memory stays flat)."""
    after: int | None = None
    while True:
        query = select(OplogEntry).order_by(OplogEntry.seq).limit(BATCH)
        if after is not None:
            query = query.where(OplogEntry.seq > after)
        batch = list(session.scalars(query))
        yield from batch
        if len(batch) < BATCH:
            return
        after = batch[-1].seq
        session.expunge_all()


def _walk(session: Session, checkpoints: list[OplogCheckpoint], anchor: tuple[int, str]) -> int:
    """Follow the chain from the anchor; returns the number of entries."""
    by_seq: dict[int, list[OplogCheckpoint]] = defaultdict(list)
    for checkpoint in checkpoints:
        by_seq[checkpoint.seq].append(checkpoint)
    anchor_seq, previous = anchor
    expected = anchor_seq + 1
    count = 0
    for entry in _entries(session):
        seq = entry.seq
        if seq <= anchor_seq:
            raise Broken(
                f"entry {seq} lies before the signed purge anchor (entry {anchor_seq}): it was "
                "inserted, or the purge was tampered with",
                seq,
            )
        if seq > expected:
            raise Broken(f"entry {expected} is missing (deleted): the log jumps to {seq}", expected)
        if entry.prev_hash != previous:
            before = "the purge anchor" if seq == anchor_seq + 1 else f"entry {seq - 1}"
            raise Broken(
                f"entry {seq} does not link to {before}: {before} was inserted or altered, "
                f"or entry {seq} was edited",
                seq,
            )
        if row_hash(entry) != entry.hash:
            raise Broken(f"entry {seq} was altered: its hash does not match its contents", seq)
        for checkpoint in by_seq.get(seq, ()):
            if checkpoint.hash != entry.hash:
                raise Broken(
                    f"entry {seq} differs from what checkpoint {checkpoint.id} signed: "
                    f"the log was rewritten at or before entry {seq}",
                    seq,
                )
        previous = entry.hash
        expected += 1
        count += 1
    last = expected - 1
    for checkpoint in checkpoints:
        if checkpoint.seq > last:
            raise Broken(
                f"entry {last + 1} is missing: checkpoint {checkpoint.id} signs entry "
                f"{checkpoint.seq} but the log ends at entry {last}",
                last + 1,
            )
    head = read_head(session.connection())
    if head is None:
        raise Broken("the chain head row is missing")
    if head.seq > last:
        raise Broken(
            f"entry {last + 1} is missing: the chain head names entry {head.seq}", last + 1
        )
    if head.seq < last:
        raise Broken(
            f"entry {head.seq + 1} was inserted: it lies after the chain head (entry {head.seq})",
            head.seq + 1,
        )
    if head.hash != previous:
        raise Broken(f"the chain head does not match entry {last}", last)
    return count


def _check_anchors(
    session: Session,
    anchors: Path,
    public_key: Ed25519PublicKey | None,
    checkpoints: list[OplogCheckpoint],
    purge_anchor: int,
) -> None:
    """Every signed line of the anchor file names an entry the log still holds as signed."""
    if not anchors.exists():
        if checkpoints:
            raise Broken(
                f"the anchor file {anchors} is missing: deleted, or the log predates anchors "
                "(the next checkpoint, within a minute of running, starts it)"
            )
        return
    try:
        lines = read_anchors(anchors)
    except (OSError, ValueError) as exc:
        raise Broken(f"the anchor file {anchors} cannot be read: {exc}") from None
    if lines and public_key is None:
        raise Broken(f"the anchor file {anchors} cannot be checked: no public key")
    for number, claim, signature in lines:
        if public_key is None or not claim_is_signed(public_key, claim, signature):
            raise Broken(f"line {number} of the anchor file is not signed by the log's key")
        purge_anchor = max(purge_anchor, claim.anchor_seq)
    for number, claim, _ in lines:
        if claim.seq <= purge_anchor:
            continue  # purged by a signed purge: nothing left to compare
        stored = session.scalar(select(OplogEntry.hash).where(OplogEntry.seq == claim.seq))
        if stored is None:
            raise Broken(
                f"entry {claim.seq} is missing, but line {number} of the anchor file says it "
                f"was signed ({claim.at.isoformat(timespec='seconds')} UTC): the log was "
                "truncated or emptied",
                claim.seq,
            )
        if stored != claim.hash:
            raise Broken(
                f"entry {claim.seq} differs from what line {number} of the anchor file "
                "signed: the log was rewritten",
                claim.seq,
            )


def _snapshot(engine: Engine) -> Connection:
    if engine.dialect.name == "sqlite":
        connection = engine.connect()
        # A WAL read transaction keeps one snapshot from its first read to its end.
        connection.exec_driver_sql("BEGIN")
        return connection
    return engine.connect().execution_options(isolation_level="REPEATABLE READ")


def verify_log(
    engine: Engine, public_key: Ed25519PublicKey | None, anchors: Path | None
) -> Verdict:
    """``anchors``: the anchor file to compare with (``DATA/oplog-anchors.jsonl``); None only
    for an auditor's copy of the database without one (truncation is then not detectable)."""
    with _snapshot(engine) as connection, Session(bind=connection) as session:
        checkpoints = list(
            session.scalars(
                select(OplogCheckpoint).order_by(OplogCheckpoint.seq, OplogCheckpoint.id)
            )
        )
        newest = checkpoints[-1] if checkpoints else None
        summary = (
            CheckpointSummary(
                newest.seq, newest.at.isoformat(timespec="seconds"), newest.kind, newest.key_id
            )
            if newest is not None
            else None
        )
        anchor = (0, GENESIS_HASH)
        for checkpoint in checkpoints:
            if checkpoint.anchor_seq > anchor[0]:
                anchor = (checkpoint.anchor_seq, checkpoint.anchor_hash)
        first = session.scalar(select(OplogEntry.seq).order_by(OplogEntry.seq).limit(1))
        try:
            _check_signatures(checkpoints, public_key)
            count = _walk(session, checkpoints, anchor)
            if anchors is not None:
                _check_anchors(session, anchors, public_key, checkpoints, anchor[0])
        except Broken as broken:
            return Verdict(0, first, 0, anchor[0], summary, str(broken), broken.seq)
        connection.rollback()
    return Verdict(count, first, anchor[0] + count, anchor[0], summary)
