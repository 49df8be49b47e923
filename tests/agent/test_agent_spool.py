"""The spool's semantics: order, numbering, confirmation, the bound and its gaps."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from agent.spool import (
    MAX_GAPS_PER_REPORT,
    REASON_SPOOL_FULL,
    SET_ASIDE_MAX_ROWS,
    Gap,
    ReportTooLarge,
    Spool,
    merge_gaps,
    peek_depth,
    peek_set_aside,
    ranges_of,
)


def _scan(number: int) -> dict[str, object]:
    return {"created_at": "2026-11-23T10:00:00Z", "policy_version": 1, "results": [number]}


def test_reports_come_out_in_the_order_they_went_in(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db") as spool:
        seqs = [spool.append("scan", _scan(n)) for n in range(5)]
        assert seqs == [1, 2, 3, 4, 5]
        oldest = spool.oldest(10)
        assert [r.seq for r in oldest] == seqs
        assert [json.loads(r.body)["results"] for r in oldest] == [[n] for n in range(5)]
        assert spool.depth() == 5
        assert spool.last_seq() == 5


def test_payload_carries_numbering_and_gaps(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db", clock_ms=lambda: 1_700_000_000_000) as spool:
        spool.append("scan", _scan(1))
        (report,) = spool.oldest()
        payload = report.payload("agent-1", spool.epoch)
    assert payload == {
        "agent_id": "agent-1",
        "epoch": 1_700_000_000_000,
        "seq": 1,
        "kind": "scan",
        "created_at": "2026-11-23T10:00:00Z",
        "policy_version": 1,
        "results": [1],
        "gaps": [],
    }


def test_confirm_deletes_only_that_report(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db") as spool:
        for n in range(3):
            spool.append("scan", _scan(n))
        assert spool.confirm(2) is True
        assert spool.confirm(2) is False
        assert [r.seq for r in spool.oldest(10)] == [1, 3]


def test_epoch_and_seq_survive_reopening_and_are_never_reused(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    with Spool(path) as spool:
        epoch = spool.epoch
        spool.append("scan", _scan(1))
        spool.append("scan", _scan(2))
        spool.confirm(1)
        spool.confirm(2)  # an empty spool must still remember where it was
    with Spool(path) as spool:
        assert spool.epoch == epoch
        assert spool.append("scan", _scan(3)) == 3


def test_a_new_spool_never_starts_below_min_epoch(tmp_path: Path) -> None:
    # A clock set back must not make a new spool reuse an epoch the server already holds.
    with Spool(tmp_path / "spool.db", min_epoch=5_000_000_000_000, clock_ms=lambda: 1) as spool:
        assert spool.epoch == 5_000_000_000_000


def test_row_bound_drops_the_lowest_value_oldest_first_and_records_a_gap(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db", max_rows=4) as spool:
        spool.append("scan", _scan(1))  # 1
        spool.append("inventory", {})  # 2
        spool.append("scan", _scan(3))  # 3
        spool.append("inventory", {})  # 4
        fifth = spool.append("scan", _scan(5))
        # The oldest inventory-only report went first, scans stayed.
        assert [r.seq for r in spool.oldest(10)] == [1, 3, 4, 5]
        sixth = spool.append("scan", _scan(6))
        assert [r.seq for r in spool.oldest(10)] == [1, 3, 5, 6]
        by_seq = {r.seq: r for r in spool.oldest(10)}
        assert by_seq[fifth].gaps == (Gap(2, 2, REASON_SPOOL_FULL),)
        assert by_seq[sixth].gaps == (Gap(4, 4, REASON_SPOOL_FULL),)
        # With only scans left, the oldest scan goes next.
        seventh = spool.append("scan", _scan(7))
        assert [r.seq for r in spool.oldest(10)] == [3, 5, 6, 7]
        assert spool.oldest(10)[-1].gaps == (Gap(1, 1, REASON_SPOOL_FULL),)
        assert seventh == 7
        assert spool.depth() == 4


def test_gaps_of_a_dropped_report_move_on_to_the_next(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db", max_rows=2) as spool:
        spool.append("scan", _scan(1))
        spool.append("scan", _scan(2))
        spool.append("scan", _scan(3))  # drops 1; report 3 carries gap 1..1
        spool.append("scan", _scan(4))  # drops 2
        spool.append("scan", _scan(5))  # drops 3 and must carry 3's gap on
        last = spool.oldest(10)[-1]
        assert last.seq == 5
        assert last.gaps == (Gap(1, 1, REASON_SPOOL_FULL), Gap(3, 3, REASON_SPOOL_FULL))
        middle = spool.oldest(10)[0]
        assert middle.gaps == (Gap(2, 2, REASON_SPOOL_FULL),)


def test_byte_bound(tmp_path: Path) -> None:
    big = {"results": ["x" * 1000]}
    with Spool(tmp_path / "spool.db", max_bytes=3500) as spool:
        for _ in range(3):
            spool.append("scan", big)
        assert spool.depth() == 3
        spool.append("scan", big)
        assert spool.depth() == 3
        assert spool.size_bytes() <= 3500
        assert spool.oldest(10)[-1].gaps == (Gap(1, 1, REASON_SPOOL_FULL),)


def test_a_report_larger_than_the_spool_is_refused_without_using_a_number(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db", max_bytes=100) as spool:
        with pytest.raises(ReportTooLarge):
            spool.append("scan", {"results": ["x" * 200]})
        assert spool.last_seq() == 0
        assert spool.append("scan", {}) == 1


def test_rejected_report_becomes_a_gap_on_the_next(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db") as spool:
        spool.append("scan", _scan(1))
        assert spool.reject(1, "rejected by the server: HTTP 400") is True
        assert spool.reject(1, "again") is False
        assert spool.depth() == 0
        spool.append("scan", _scan(2))
        (report,) = spool.oldest()
        assert report.gaps == (Gap(1, 1, "rejected by the server: HTTP 400"),)
        assert spool.pending_gaps() == []


def test_a_damaged_spool_is_set_aside_and_a_new_epoch_begins(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    with Spool(path, clock_ms=lambda: 1000) as spool:
        spool.append("scan", _scan(1))
    path.write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with Spool(path, min_epoch=1001, clock_ms=lambda: 1000) as spool:
        assert spool.epoch == 1001
        assert spool.depth() == 0
    assert any(p.name.startswith("spool.db.damaged-") for p in tmp_path.iterdir())


def test_pragmas_make_commits_durable(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db") as spool:
        spool.append("scan", {})
    db = sqlite3.connect(tmp_path / "spool.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    with Spool(tmp_path / "spool.db") as spool:
        # synchronous is per connection: check the spool's own.
        assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_peek_depth_reads_without_creating(tmp_path: Path) -> None:
    assert peek_depth(tmp_path / "spool.db") is None
    assert not (tmp_path / "spool.db").exists()
    with Spool(tmp_path / "spool.db", clock_ms=lambda: 42) as spool:
        spool.append("scan", {})
        spool.append("scan", {})
        assert peek_depth(tmp_path / "spool.db") == (2, 42, 2)


def test_peek_depth_takes_a_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `xunjian agent status --state ./agent` passes a relative folder.
    monkeypatch.chdir(tmp_path)
    with Spool(Path("spool.db"), clock_ms=lambda: 7) as spool:
        spool.append("scan", {})
    assert peek_depth(Path("spool.db")) == (1, 7, 1)


def test_ranges_and_gap_merging() -> None:
    assert ranges_of([5, 1, 2, 3, 7, 8]) == [(1, 3), (5, 5), (7, 8)]
    merged = merge_gaps([Gap(3, 4, "a"), Gap(1, 2, "a"), Gap(5, 5, "b"), Gap(6, 9, "b")])
    assert merged == [Gap(1, 4, "a"), Gap(5, 9, "b")]
    many = [Gap(n * 10, n * 10, "spool full") for n in range(MAX_GAPS_PER_REPORT + 20)]
    capped = merge_gaps(many)
    assert len(capped) == MAX_GAPS_PER_REPORT
    # Nothing is forgotten: the folded range still covers the earliest numbers.
    assert capped[0].from_seq == 0 and capped[0].to_seq >= 200
    assert capped[-1] == many[-1]


def test_a_rejected_report_is_set_aside_kept_and_counted(tmp_path: Path) -> None:
    with Spool(tmp_path / "spool.db") as spool:
        for index in range(3):
            spool.append("scan", {"n": index})
        assert spool.reject(1, "rejected by the server: HTTP 400: results[0].message: NUL")
        assert spool.reject(2, "x" * 500)
        assert [seq for seq, _, _ in spool.set_aside()] == [1, 2]
        assert len(spool.set_aside()[1][2]) == 200  # the gap's reason bound
        assert spool.set_aside_total() == 2
        assert [r.seq for r in spool.oldest(5)] == [3]  # the queue moved on
    # Kept across a restart, and bounded: only the newest are kept, all are counted.
    with Spool(tmp_path / "spool.db") as spool:
        assert spool.set_aside_total() == 2
        for index in range(SET_ASIDE_MAX_ROWS + 5):
            seq = spool.append("scan", {"n": index})
            spool.reject(seq, "refused")
        kept = spool.set_aside()
        assert len(kept) == SET_ASIDE_MAX_ROWS and kept[-1][0] == seq
        assert spool.set_aside_total() == SET_ASIDE_MAX_ROWS + 7
    assert peek_set_aside(tmp_path / "spool.db") == SET_ASIDE_MAX_ROWS + 7


def test_the_spool_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    with Spool(path) as spool:
        spool.append("scan", {"n": 1})
        for name in ("spool.db", "spool.db-wal", "spool.db-shm"):
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name
    path.chmod(0o644)  # a spool from an older version
    with Spool(path):
        assert path.stat().st_mode & 0o777 == 0o600
