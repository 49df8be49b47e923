"""The operation log's chain, checkpoints, verification (against real tampering through SQL on
each database), signing key, purge and the ``oplog verify|purge`` command bodies."""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
import re
import stat
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import inspect, select, text

from server.migrations import all_models
from server.oplog.chain import GENESIS_HASH, EntryFields, entry_hash
from server.oplog.cli import purge_command, verify_command
from server.oplog.models import OplogCheckpoint, OplogEntry
from server.oplog.settings import OplogSettings, retention_problem
from server.oplog.signing import (
    ANCHORS_NAME,
    KEY_NAME,
    PUBLIC_KEY_NAME,
    ensure_signing_key,
    verification_key,
)
from server.oplog.store import OperationLog
from server.oplog.verify import Verdict, verify_log
from server.store.migrate import alembic_config
from server.store.models import utcnow
from tests.server.conftest import Server

EVERY = 5


def make_log(server: Server, every: int = EVERY, retention: int = 180) -> OperationLog:
    return OperationLog(server.state.engine, server.data, OplogSettings(retention, every))


def fill(log: OperationLog, count: int, at: datetime.datetime | None = None) -> None:
    for index in range(count):
        log.append(
            EntryFields.make(
                "test.event",
                actor="alice",
                role="admin",
                target=f"host:{index}",
                client_address="10.0.0.9",
                client_port=40000 + index,
                details={"index": index, "text": "巡检"},
            ),
            at=at,
        )


def check(server: Server) -> Verdict:
    return verify_log(
        server.state.engine, verification_key(server.data), server.data / ANCHORS_NAME
    )


def sql(server: Server, statement: str, **params: object) -> None:
    with server.state.engine.begin() as connection:
        connection.execute(text(statement), params)


def entries(server: Server) -> list[OplogEntry]:
    with server.state.sessions() as session:
        return list(session.scalars(select(OplogEntry).order_by(OplogEntry.seq)))


def test_migrations_create_exactly_the_models_with_the_oplog(server: Server) -> None:
    with server.state.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), all_models.metadata)
        tables = set(inspect(connection).get_table_names())
    assert differences == []
    assert {"oplog_entries", "oplog_head", "oplog_checkpoints"} <= tables


def test_migration_downgrades_and_upgrades_again(server: Server) -> None:
    engine = server.state.engine
    command.downgrade(alembic_config(engine), "0001")
    with engine.connect() as connection:
        assert "oplog_entries" not in inspect(connection).get_table_names()
    command.upgrade(alembic_config(engine), "heads")
    fill(make_log(server), 2)
    assert check(server).ok


def test_entries_chain_from_genesis_and_verify(server: Server) -> None:
    fill(make_log(server), 12)
    rows = entries(server)
    assert [row.seq for row in rows] == list(range(1, 13))
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(rows))
    assert rows[3].client_port == 40003 and rows[3].client_address == "10.0.0.9"
    assert rows[0].details == '{"index":0,"text":"巡检"}'
    verdict = check(server)
    assert verdict.ok, verdict.problem
    assert (verdict.entries, verdict.first_seq, verdict.last_seq) == (12, 1, 12)
    # Checkpoints every EVERY entries.
    assert verdict.last_checkpoint is not None and verdict.last_checkpoint.seq == 10


def test_empty_log_verifies(server: Server) -> None:
    verdict = check(server)
    assert verdict.ok and verdict.entries == 0 and verdict.last_checkpoint is None


def test_details_are_bounded_and_fields_cleaned() -> None:
    fields = EntryFields.make("x" * 300, actor="a\x00b", details={"blob": "y" * 10_000})
    assert len(fields.action) == 64
    assert fields.actor == "a\ufffdb"
    assert fields.details == '{"bytes":10011,"truncated":true}'
    with pytest.raises(ValueError):
        EntryFields.make("x", outcome="maybe")


def test_an_edited_row_is_named(server: Server) -> None:
    fill(make_log(server), 8)
    sql(server, "UPDATE oplog_entries SET actor = 'mallory' WHERE seq = 3")
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 3
    assert "entry 3 was altered" in (verdict.problem or "")


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(server: Server) -> None:
    fill(make_log(server), 8)
    row = entries(server)[6]  # entry 7: after the last checkpoint (5), before the head
    forged = EntryFields(
        action=row.action,
        actor="mallory",
        role=row.role,
        target=row.target,
        outcome=row.outcome,
        reason=row.reason,
        client_address=row.client_address,
        client_port=row.client_port,
        details=row.details,
    )
    digest = entry_hash(7, row.at, forged, row.prev_hash)
    sql(
        server,
        "UPDATE oplog_entries SET actor = 'mallory', hash = :h WHERE seq = 7",
        h=digest,
    )
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 8
    assert "entry 8 does not link to entry 7" in (verdict.problem or "")


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(server: Server) -> None:
    """Someone with database access recomputes every hash after an edit: only the checkpoint
    signature, made with a key outside the database, shows it."""
    fill(make_log(server), 10)
    previous = GENESIS_HASH
    for row in entries(server):
        fields = EntryFields(
            action=row.action,
            actor="mallory" if row.seq == 2 else row.actor,
            role=row.role,
            target=row.target,
            outcome=row.outcome,
            reason=row.reason,
            client_address=row.client_address,
            client_port=row.client_port,
            details=row.details,
        )
        digest = entry_hash(row.seq, row.at, fields, previous)
        sql(
            server,
            "UPDATE oplog_entries SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s",
            a=fields.actor,
            p=previous,
            h=digest,
            s=row.seq,
        )
        previous = digest
    sql(server, "UPDATE oplog_head SET hash = :h", h=previous)
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 5
    assert "differs from what checkpoint" in (verdict.problem or "")


def test_a_deleted_row_is_named(server: Server) -> None:
    fill(make_log(server), 8)
    sql(server, "DELETE FROM oplog_entries WHERE seq = 4")
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 4
    assert "entry 4 is missing" in (verdict.problem or "")


def test_a_deleted_last_row_is_named(server: Server) -> None:
    fill(make_log(server), 8)
    sql(server, "DELETE FROM oplog_entries WHERE seq = 8")
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 8
    assert "chain head names entry 8" in (verdict.problem or "")


def test_a_truncated_log_with_a_reset_head_is_caught_by_a_checkpoint(server: Server) -> None:
    fill(make_log(server), 12)
    kept = entries(server)[3]  # entry 4
    sql(server, "DELETE FROM oplog_entries WHERE seq > 4")
    sql(server, "UPDATE oplog_head SET seq = 4, hash = :h", h=kept.hash)
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 5
    assert "checkpoint" in (verdict.problem or "")


def test_newest_entries_cut_with_their_checkpoints_are_caught_by_the_anchor_file(
    server: Server,
) -> None:
    """The database alone cannot tell: entries 5..12 and their checkpoints deleted, the head
    set back to entry 4 still links up. The anchor file beside the data names entry 5."""
    fill(make_log(server), 12)
    kept = entries(server)[3]  # entry 4
    sql(server, "DELETE FROM oplog_entries WHERE seq > 4")
    sql(server, "DELETE FROM oplog_checkpoints WHERE seq > 4")
    sql(server, "UPDATE oplog_head SET seq = 4, hash = :h, checkpoint_seq = 0", h=kept.hash)
    assert verify_log(server.state.engine, verification_key(server.data), None).ok  # blind
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 5, verdict
    assert "truncated" in (verdict.problem or "")


def test_an_emptied_log_reset_to_genesis_is_caught_by_the_anchor_file(server: Server) -> None:
    fill(make_log(server), 7)
    sql(server, "DELETE FROM oplog_entries")
    sql(server, "DELETE FROM oplog_checkpoints")
    sql(server, "UPDATE oplog_head SET seq = 0, hash = :h, checkpoint_seq = 0", h=GENESIS_HASH)
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 5
    # The anchor file itself removed, while the database still has checkpoints: also named.
    fill(make_log(server), 6)
    (server.data / ANCHORS_NAME).unlink()
    verdict = check(server)
    assert not verdict.ok and "anchor file" in (verdict.problem or "")


def test_a_forged_anchor_line_is_named(server: Server) -> None:
    fill(make_log(server), 6)
    path = server.data / ANCHORS_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    line = path.read_text().splitlines()[0].replace('"seq":5', '"seq":6')
    with path.open("a") as handle:
        handle.write(line + "\n")
    verdict = check(server)
    assert not verdict.ok and "line 2 of the anchor file is not signed" in (verdict.problem or "")


def test_the_unsigned_tail_is_a_minute_at_most(server: Server) -> None:
    """Signed by count (every 5 here), by age (an append a minute after the newest signed
    entry), and by the scheduler's job for an idle tail; each anchored."""
    log = make_log(server, every=100)
    start = utcnow() - datetime.timedelta(minutes=10)
    fill(log, 1, at=start)  # entry 1: nothing signed yet
    fill(log, 1, at=start + datetime.timedelta(seconds=30))
    with server.state.sessions() as session:
        assert list(session.scalars(select(OplogCheckpoint.seq))) == []
    assert log.sign_tail() is not None  # the job: entries 1..2 waited unsigned
    fill(log, 1, at=start + datetime.timedelta(seconds=50))
    fill(log, 1, at=start + datetime.timedelta(seconds=95))  # 65 s after entry 2
    assert log.sign_tail() is None  # nothing waits now
    with server.state.sessions() as session:
        assert sorted(session.scalars(select(OplogCheckpoint.seq))) == [2, 4]
    anchored = [line for line in (server.data / ANCHORS_NAME).read_text().splitlines() if line]
    assert len(anchored) == 2
    assert check(server).ok


def _insert(server: Server, seq: int, prev_hash: str) -> None:
    at = utcnow()
    fields = EntryFields.make("console.login", actor="mallory", role="admin")
    sql(
        server,
        "INSERT INTO oplog_entries (seq, at, actor, role, action, target, outcome, reason,"
        " client_address, client_port, details, prev_hash, hash) VALUES (:seq, :at, :actor,"
        " :role, :action, '', 'ok', '', '', NULL, '{}', :prev, :hash)",
        seq=seq,
        at=at,
        actor=fields.actor,
        role=fields.role,
        action=fields.action,
        prev=prev_hash,
        hash=entry_hash(seq, at, fields, prev_hash),
    )


def test_a_well_formed_row_inserted_at_the_end_is_named(server: Server) -> None:
    fill(make_log(server), 8)
    _insert(server, 9, entries(server)[-1].hash)
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 9
    assert "entry 9 was inserted" in (verdict.problem or "")


def test_a_row_inserted_in_the_middle_is_named(server: Server) -> None:
    fill(make_log(server), 8)
    third = entries(server)[2]
    # Make room after entry 3 (two steps: the primary key forbids overlapping on the way).
    sql(server, "UPDATE oplog_entries SET seq = seq + 1000 WHERE seq > 3")
    sql(server, "UPDATE oplog_entries SET seq = seq - 999 WHERE seq > 1000")
    _insert(server, 4, third.hash)
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 5
    assert "entry 5 does not link to entry 4: entry 4 was inserted" in (verdict.problem or "")


def test_a_forged_checkpoint_signature_is_named(server: Server) -> None:
    fill(make_log(server), 10)
    sql(server, "UPDATE oplog_checkpoints SET signature = :s WHERE seq = 5", s="00" * 64)
    verdict = check(server)
    assert not verdict.ok
    assert "(entry 5): the signature does not verify" in (verdict.problem or "")


def test_a_checkpoint_resigned_with_another_key_is_named(server: Server) -> None:
    fill(make_log(server), 10)
    other = tmp_key_folder(server)
    OperationLog(server.state.engine, other, OplogSettings(checkpoint_every=EVERY)).checkpoint()
    verdict = check(server)
    assert not verdict.ok and "names another signing key" in (verdict.problem or "")


def tmp_key_folder(server: Server) -> Path:
    folder = server.data.parent / "other-key"
    folder.mkdir()
    return folder


def test_signing_key_is_made_lazily_private_and_exported(server: Server) -> None:
    key_path, public_path = server.data / KEY_NAME, server.data / PUBLIC_KEY_NAME
    # As in a data folder made before the operation log existed (init may make the key).
    key_path.unlink(missing_ok=True)
    public_path.unlink(missing_ok=True)
    fill(make_log(server), EVERY - 1)
    assert not key_path.exists()  # no checkpoint yet, so no key needed
    fill(make_log(server), 1)
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    key = ensure_signing_key(server.data)
    published = serialization.load_pem_public_key(public_path.read_bytes())
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert published.public_bytes(*raw) == key.public_key().public_bytes(*raw)


def test_concurrent_key_creation_yields_one_key(tmp_path: Path) -> None:
    keys: list[Ed25519PrivateKey] = []
    barrier = threading.Barrier(8)

    def make() -> None:
        barrier.wait()
        keys.append(ensure_signing_key(tmp_path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    raw = serialization.Encoding.Raw, serialization.PrivateFormat.Raw
    values = {key.private_bytes(*raw, serialization.NoEncryption()) for key in keys}
    assert len(keys) == 8 and len(values) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == [KEY_NAME, PUBLIC_KEY_NAME]


def test_retention_below_sixty_days_is_refused() -> None:
    assert retention_problem(60) is None and retention_problem(180) is None
    assert "at least 60 days" in (retention_problem(59) or "")
    assert retention_problem(True) is not None
    with pytest.raises(ValueError, match="at least 60"):
        OplogSettings(retention_days=30)
    assert OplogSettings.from_config(object()) == OplogSettings(180, 100)


def test_purge_keeps_the_log_verifiable_and_is_logged(server: Server) -> None:
    log = make_log(server, retention=180)
    now = utcnow()
    fill(log, 7, at=now - datetime.timedelta(days=200))
    fill(log, 3, at=now - datetime.timedelta(days=10))
    result = log.purge(EntryFields.make("oplog.purge", actor="cli:root", role="system"), now)
    assert (result.purged, result.through_seq, result.entry.seq) == (7, 7, 11)
    rows = entries(server)
    assert [row.seq for row in rows] == [8, 9, 10, 11]
    purge = rows[-1]
    assert (purge.action, purge.actor, purge.target) == ("oplog.purge", "cli:root", "seq<=7")
    assert '"purged":7' in purge.details
    with server.state.sessions() as session:
        signed = sorted(session.scalars(select(OplogCheckpoint.seq)))
    # Entry 5's checkpoint went with entry 5; entry 8 was signed at once, its signed
    # predecessor (entry 5) being far more than a minute older (store.SIGN_WITHIN).
    assert signed == [8, 11]
    verdict = check(server)
    assert verdict.ok, verdict.problem
    assert (verdict.entries, verdict.first_seq, verdict.anchor_seq) == (4, 8, 7)
    assert verdict.last_checkpoint is not None and verdict.last_checkpoint.kind == "purge"

    # Nothing old enough now: still a logged purge, and the anchor stays.
    again = log.purge(EntryFields.make("oplog.purge", actor="cli:root", role="system"), now)
    assert (again.purged, again.through_seq, again.entry.seq) == (0, 7, 12)
    fill(log, 4)
    assert check(server).ok


def test_removing_the_purge_checkpoint_is_detected(server: Server) -> None:
    log = make_log(server)
    now = utcnow()
    fill(log, 6, at=now - datetime.timedelta(days=365))
    log.purge(EntryFields.make("oplog.purge"), now)
    sql(server, "DELETE FROM oplog_checkpoints WHERE kind = 'purge'")
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 1
    assert "entry 1 is missing" in (verdict.problem or "")


def test_an_old_row_inserted_before_the_purge_anchor_is_named(server: Server) -> None:
    log = make_log(server)
    now = utcnow()
    fill(log, 6, at=now - datetime.timedelta(days=365))
    log.purge(EntryFields.make("oplog.purge"), now)
    _insert(server, 3, GENESIS_HASH)
    verdict = check(server)
    assert not verdict.ok and verdict.bad_seq == 3
    assert "before the signed purge anchor" in (verdict.problem or "")


def test_purge_needs_the_signing_key_and_then_deletes_nothing(server: Server) -> None:
    log = make_log(server)
    fill(log, 3, at=utcnow() - datetime.timedelta(days=365))
    (server.data / KEY_NAME).write_text("not a key")
    status = purge_command(argparse.Namespace(data=server.data))
    assert status == 1
    assert len(entries(server)) == 3


# The test reads times in Shanghai; the default is the machine's own zone (issue 13 item 6).
@pytest.mark.parametrize("server_settings", [{"console_timezone": "Asia/Shanghai"}])
def test_verify_command_reports_count_and_checkpoint(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(make_log(server, every=100), 3)
    assert verify_command(argparse.Namespace(data=server.data, public_key=None)) == 0
    out = capsys.readouterr().out
    assert "intact: 3 entries (entries 1..3)" in out and "last checkpoint: none yet" in out

    fill(make_log(server, every=5), 3)  # entry 6 is due: 6 - 0 >= 5
    assert verify_command(argparse.Namespace(data=server.data, public_key=None)) == 0
    out = capsys.readouterr().out
    assert "intact: 6 entries" in out and "last checkpoint: entry 5, periodic" in out
    # Its time in the console's zone, named (issue 13 item 6).
    assert re.search(r"signed \d{4}-\d\d-\d\d \d\d:\d\d:\d\d Asia/Shanghai by key", out), out
    assert "1 newer entries are chained but not yet signed" in out

    sql(server, "UPDATE oplog_entries SET outcome = 'ok', reason = 'edited' WHERE seq = 2")
    assert verify_command(argparse.Namespace(data=server.data, public_key=None)) == 1
    out = capsys.readouterr().out
    assert "DAMAGED" in out and "first bad entry: 2" in out


def test_verify_command_with_an_auditors_public_key(
    server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    fill(make_log(server), 5)
    stranger = Ed25519PrivateKey.generate().public_key()
    path = server.data.parent / "stranger.pub"
    path.write_bytes(
        stranger.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert verify_command(argparse.Namespace(data=server.data, public_key=path)) == 1
    assert "another signing key" in capsys.readouterr().out
    exported = server.data / PUBLIC_KEY_NAME
    assert verify_command(argparse.Namespace(data=server.data, public_key=exported)) == 0


def test_purge_command(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    fill(make_log(server), 4, at=utcnow() - datetime.timedelta(days=181))
    fill(make_log(server), 2, at=utcnow() - datetime.timedelta(days=179))
    assert purge_command(argparse.Namespace(data=server.data)) == 0
    out = capsys.readouterr().out
    assert "purged 4 operation log entries" in out and "(180 days)" in out
    assert [row.seq for row in entries(server)] == [5, 6, 7]
    with server.state.sessions() as session:
        signed = list(session.execute(select(OplogCheckpoint.seq, OplogCheckpoint.kind)))
    # Entry 5's checkpoint stays (entry 5 is kept); the purge signed its own entry, 7.
    assert sorted((seq, kind) for seq, kind in signed) == [(5, "periodic"), (7, "purge")]
    assert verify_command(argparse.Namespace(data=server.data, public_key=None)) == 0
