"""The spool: a bounded SQLite queue of reports that the server has not confirmed yet.

Guarantees, and how they are kept:

* **Nothing spooled is lost to a crash.** Every change is one transaction in WAL mode with
  ``synchronous=FULL``: once :meth:`Spool.append` returns, the report survives ``kill -9`` and
  a power cut.
* **No number is used twice.** ``epoch`` is fixed when the spool is created (milliseconds since
  the Unix epoch, never below ``min_epoch``); ``seq`` comes from a counter in the database that
  is advanced in the same transaction as the insert, so a crash can skip nothing it has handed
  out and hand out nothing twice. The server stores ``(agent_id, epoch, seq)`` once, so a
  retried send is harmless.
* **A sent report is byte for byte the one first sent**: rows are never changed after the
  insert, only deleted on confirmation or dropped by the bound.
* **Bounded.** ``max_rows`` and ``max_bytes``; when a new report does not fit, the lowest-value
  kinds go first (inventory-only before scans), oldest first within a kind. The dropped numbers
  become gaps ``{from_seq, to_seq, reason}`` that ride with the new report, so the server knows
  what it will never see. Gaps of a dropped report move on to the new one.
* **One report never stalls the rest.** A report the server refuses for its content (a 4xx
  that sending again cannot heal) is *set aside* (:meth:`Spool.reject`): moved to the
  ``set_aside`` table with the server's reason (the newest ``SET_ASIDE_MAX_ROWS`` kept for
  inspection, every one counted), its number becomes a gap with that reason on the next
  report, and the queue moves on.
* **Evidence uploads wait here too** (:meth:`Spool.add_upload`): an evidence archive is a
  file in the state folder (agent/evidence.py) and a row here with how many of its bytes the
  server has confirmed, so an upload cut by a restart, a crash or a lost link resumes where
  the server says it stopped. Uploads are never dropped to make room for reports; their number
  is bounded instead (``MAX_UPLOADS``: a new snapshot is refused beyond it).
* **Private.** spool.db (and with it SQLite's -wal and -shm, which take its mode) is 0600:
  reports carry accounts, software and file paths.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xunjian.core.contract import (
    GAP_REASON_MAX,
    GAP_SPOOL_FULL,
    KIND_INVENTORY,
    KIND_SCAN,
    MAX_GAPS,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
# Lower value is dropped first when the spool is full.
KIND_PRIORITY: dict[str, int] = {KIND_INVENTORY: 0, KIND_SCAN: 10}
UNKNOWN_KIND_PRIORITY = 0
REASON_SPOOL_FULL = GAP_SPOOL_FULL
# Gaps are merged into ranges; past this many, the oldest are folded into one range so a
# report never grows without bound after a long outage.
MAX_GAPS_PER_REPORT = MAX_GAPS
# Refused reports kept for a person to look at (the count of all of them is kept apart).
SET_ASIDE_MAX_ROWS = 50
FILE_MODE = 0o600
# Evidence archives waiting for the server at once (each up to the contract's archive limit).
MAX_UPLOADS = 8

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    priority INTEGER NOT NULL,
    body BLOB NOT NULL,
    size INTEGER NOT NULL,
    gaps TEXT NOT NULL,
    spooled_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_drop_order ON reports (priority, seq);
CREATE TABLE IF NOT EXISTS set_aside (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    body BLOB NOT NULL,
    reason TEXT NOT NULL,
    set_aside_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    command_id TEXT,
    reason TEXT NOT NULL,
    sent INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending_gaps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    from_seq INTEGER NOT NULL,
    to_seq INTEGER NOT NULL,
    reason TEXT NOT NULL
);
"""


class SpoolError(Exception):
    """The spool cannot take or give a report."""


class ReportTooLarge(SpoolError):
    """A single report is larger than the whole spool may hold."""


@dataclass(frozen=True)
class Gap:
    from_seq: int
    to_seq: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"from_seq": self.from_seq, "to_seq": self.to_seq, "reason": self.reason}


@dataclass(frozen=True)
class Upload:
    """An evidence archive waiting for the server: ``sent`` of its ``size`` bytes confirmed."""

    id: str
    path: Path
    size: int
    sha256: str
    command_id: str | None
    reason: str
    sent: int


@dataclass(frozen=True)
class SpooledReport:
    seq: int
    kind: str
    body: bytes
    gaps: tuple[Gap, ...]

    def payload(self, agent_id: str, epoch: int) -> dict[str, Any]:
        """The body for ``POST /api/v1/agent/reports``."""
        content = json.loads(self.body)
        content.update(
            agent_id=agent_id,
            epoch=epoch,
            seq=self.seq,
            kind=self.kind,
            gaps=[gap.as_dict() for gap in self.gaps],
        )
        return content


def milliseconds_now() -> int:
    return time.time_ns() // 1_000_000


def ranges_of(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged ``(first, last)`` runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for number in sorted(set(numbers)):
        if runs and runs[-1][1] + 1 == number:
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def merge_gaps(gaps: Iterable[Gap]) -> list[Gap]:
    """Sort gaps, join touching or overlapping ones of one reason, and cap their number."""
    merged: list[Gap] = []
    for gap in sorted(gaps, key=lambda g: (g.from_seq, g.to_seq)):
        last = merged[-1] if merged else None
        if last and last.reason == gap.reason and gap.from_seq <= last.to_seq + 1:
            merged[-1] = Gap(last.from_seq, max(last.to_seq, gap.to_seq), last.reason)
        else:
            merged.append(gap)
    if len(merged) > MAX_GAPS_PER_REPORT:
        folded = merged[: len(merged) - MAX_GAPS_PER_REPORT + 1]
        first = Gap(
            folded[0].from_seq,
            max(gap.to_seq for gap in folded),
            ("several gaps merged: " + ", ".join(sorted({gap.reason for gap in folded})))[
                :GAP_REASON_MAX
            ],
        )
        merged = [first, *merged[len(folded) :]]
    return merged


def _gaps_to_text(gaps: Iterable[Gap]) -> str:
    return json.dumps([gap.as_dict() for gap in gaps], separators=(",", ":"))


def _gaps_from_text(text: str) -> list[Gap]:
    return [Gap(int(g["from_seq"]), int(g["to_seq"]), str(g["reason"])) for g in json.loads(text)]


class Spool:
    """One spool database. Safe to share between the runner's threads."""

    def __init__(
        self,
        path: Path,
        max_rows: int = 1000,
        max_bytes: int = 64 * 1024 * 1024,
        min_epoch: int = 0,
        clock_ms: Callable[[], int] = milliseconds_now,
    ) -> None:
        if max_rows < 1 or max_bytes < 1:
            raise ValueError("max_rows and max_bytes must be at least 1")
        self.path = path
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._clock_ms = clock_ms
        self._lock = threading.Lock()
        self._db = self._open(path, min_epoch)
        self.epoch = self._meta("epoch")

    # -- opening --------------------------------------------------------------------------
    def _open(self, path: Path, min_epoch: int) -> sqlite3.Connection:
        try:
            return self._connect_and_prepare(path, min_epoch)
        except sqlite3.OperationalError:
            raise  # locked, read-only, disk full: not a reason to throw the spool away
        except sqlite3.DatabaseError as exc:
            # A damaged file cannot be repaired here. Keep it for inspection and start a new
            # epoch: a new epoch can never collide with numbers the server already holds.
            aside = path.with_name(f"{path.name}.damaged-{self._clock_ms()}")
            log.error("spool %s is damaged (%s); moved to %s, starting afresh", path, exc, aside)
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{path}{suffix}")
                if source.exists():
                    source.rename(f"{aside}{suffix}")
            return self._connect_and_prepare(path, min_epoch)

    def _connect_and_prepare(self, path: Path, min_epoch: int) -> sqlite3.Connection:
        private_file(path)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            # A small page cache: the agent's idle memory matters more than spool speed.
            db.execute("PRAGMA cache_size=-256")
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
                if row is None:
                    epoch = max(self._clock_ms(), min_epoch)
                    db.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("epoch", epoch), ("next_seq", 1), ("schema_version", SCHEMA_VERSION)],
                    )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except BaseException:
            db.close()
            raise
        return db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (IMMEDIATE) so two writers never interleave."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise SpoolError(f"spool {self.path} has no {key}")
        return int(row[0])

    # -- writing --------------------------------------------------------------------------
    def append(self, kind: str, content: dict[str, Any]) -> int:
        """Spool a report; returns its ``seq``. Durable when this returns.

        ``content`` is everything of the report but the numbering (agent_id, epoch, seq, kind,
        gaps), which is added when it is sent.
        """
        body = json.dumps(content, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        size = len(body)
        if size > self.max_bytes:
            raise ReportTooLarge(f"a {size}-byte report does not fit a {self.max_bytes}-byte spool")
        priority = KIND_PRIORITY.get(kind, UNKNOWN_KIND_PRIORITY)
        with self._lock, self._transaction() as db:
            seq = self._meta("next_seq")
            db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (seq + 1,))
            self._make_room(size)
            gaps = merge_gaps(self._take_pending_gaps())
            db.execute(
                "INSERT INTO reports (seq, kind, priority, body, size, gaps, spooled_at_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, kind, priority, body, size, _gaps_to_text(gaps), self._clock_ms()),
            )
        return seq

    def _make_room(self, incoming_size: int) -> None:
        """Drop reports until one more of ``incoming_size`` fits; their numbers become gaps."""
        db = self._db
        rows, used = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM reports").fetchone()
        dropped: list[int] = []
        if rows + 1 > self.max_rows or used + incoming_size > self.max_bytes:
            victims = db.execute(
                "SELECT seq, size, gaps FROM reports ORDER BY priority ASC, seq ASC"
            ).fetchall()
            carried: list[Gap] = []
            for seq, size, gaps_text in victims:
                if rows + 1 <= self.max_rows and used + incoming_size <= self.max_bytes:
                    break
                dropped.append(seq)
                carried.extend(_gaps_from_text(gaps_text))
                rows -= 1
                used -= size
            db.executemany("DELETE FROM reports WHERE seq = ?", [(seq,) for seq in dropped])
            new_gaps = [Gap(a, b, REASON_SPOOL_FULL) for a, b in ranges_of(dropped)]
            self._add_pending_gaps([*carried, *new_gaps])
            log.warning("spool full: dropped %d report(s): %s", len(dropped), new_gaps)

    def _add_pending_gaps(self, gaps: Iterable[Gap]) -> None:
        self._db.executemany(
            "INSERT INTO pending_gaps (from_seq, to_seq, reason) VALUES (?, ?, ?)",
            [(gap.from_seq, gap.to_seq, gap.reason) for gap in gaps],
        )

    def _take_pending_gaps(self) -> list[Gap]:
        rows = self._db.execute("SELECT from_seq, to_seq, reason FROM pending_gaps").fetchall()
        self._db.execute("DELETE FROM pending_gaps")
        return [Gap(int(a), int(b), str(reason)) for a, b, reason in rows]

    # -- reading and confirming -----------------------------------------------------------
    def oldest(self, limit: int = 1) -> list[SpooledReport]:
        """The first ``limit`` unconfirmed reports, oldest (lowest seq) first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, body, gaps FROM reports ORDER BY seq ASC LIMIT ?", (limit,)
            ).fetchall()
        return [
            SpooledReport(int(seq), str(kind), bytes(body), tuple(_gaps_from_text(gaps)))
            for seq, kind, body, gaps in rows
        ]

    def confirm(self, seq: int) -> bool:
        """The server holds report ``seq``: forget it. False when it was not spooled."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM reports WHERE seq = ?", (seq,))
            return cursor.rowcount == 1

    def reject(self, seq: int, reason: str) -> bool:
        """The server will never take report ``seq``: set it aside, tell the server in a gap."""
        reason = reason[:GAP_REASON_MAX]
        with self._lock, self._transaction() as db:
            row = db.execute(
                "SELECT kind, body, gaps FROM reports WHERE seq = ?", (seq,)
            ).fetchone()
            if row is None:
                return False
            kind, body, gaps_text = row
            db.execute("DELETE FROM reports WHERE seq = ?", (seq,))
            db.execute(
                "INSERT OR REPLACE INTO set_aside (seq, kind, body, reason, set_aside_at_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (seq, kind, body, reason, self._clock_ms()),
            )
            db.execute(
                "DELETE FROM set_aside WHERE seq NOT IN"
                " (SELECT seq FROM set_aside ORDER BY seq DESC LIMIT ?)",
                (SET_ASIDE_MAX_ROWS,),
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('set_aside_total', 1)"
                " ON CONFLICT (key) DO UPDATE SET value = value + 1"
            )
            # Its own gaps still count: they ride on the next report with this one's.
            self._add_pending_gaps([*_gaps_from_text(gaps_text), Gap(seq, seq, reason)])
        return True

    def set_aside(self) -> list[tuple[int, str, str]]:
        """The refused reports kept: ``(seq, kind, reason)``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, kind, reason FROM set_aside ORDER BY seq"
            ).fetchall()
        return [(int(seq), str(kind), str(reason)) for seq, kind, reason in rows]

    def set_aside_total(self) -> int:
        """How many reports the server refused for their content, kept or not."""
        with self._lock:
            row = self._db.execute(
                "SELECT value FROM meta WHERE key = 'set_aside_total'"
            ).fetchone()
        return 0 if row is None else int(row[0])

    # -- evidence uploads -------------------------------------------------------------------
    def add_upload(
        self,
        upload_id: str,
        path: Path,
        size: int,
        sha256: str,
        command_id: str | None,
        reason: str,
    ) -> None:
        """Queue an archive (already durable at ``path``) for upload; SpoolError when
        ``MAX_UPLOADS`` wait already."""
        with self._lock, self._transaction() as db:
            (waiting,) = db.execute("SELECT count(*) FROM uploads").fetchone()
            if waiting >= MAX_UPLOADS:
                raise SpoolError(
                    f"{waiting} evidence uploads wait already; the limit is {MAX_UPLOADS}"
                )
            db.execute(
                "INSERT INTO uploads (id, path, size, sha256, command_id, reason, sent,"
                " created_at_ms) VALUES (?, ?, ?, ?, ?, ?, 0, ?)",
                (upload_id, str(path), size, sha256, command_id, reason, self._clock_ms()),
            )

    def uploads(self) -> list[Upload]:
        """Waiting uploads, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, path, size, sha256, command_id, reason, sent FROM uploads"
                " ORDER BY created_at_ms, id"
            ).fetchall()
        return [
            Upload(str(i), Path(p), int(n), str(h), c, str(r), int(s))
            for i, p, n, h, c, r, s in rows
        ]

    def upload_progress(self, upload_id: str, sent: int) -> None:
        """The server confirmed ``sent`` bytes of the upload."""
        with self._lock:
            self._db.execute("UPDATE uploads SET sent = ? WHERE id = ?", (sent, upload_id))

    def finish_upload(self, upload_id: str) -> bool:
        """The server holds the whole archive (or refused it for good): forget the row."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))
            return cursor.rowcount == 1

    # -- figures for heartbeats and `agent status` ----------------------------------------
    def depth(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM reports").fetchone()[0])

    def size_bytes(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT coalesce(sum(size), 0) FROM reports").fetchone()[0])

    def last_seq(self) -> int:
        """The highest seq handed out so far in this epoch (0 before the first report)."""
        with self._lock:
            return self._meta("next_seq") - 1

    def pending_gaps(self) -> list[Gap]:
        """Gaps waiting for the next report to carry them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT from_seq, to_seq, reason FROM pending_gaps ORDER BY id"
            ).fetchall()
        return [Gap(int(a), int(b), str(reason)) for a, b, reason in rows]


def private_file(path: Path) -> None:
    """Create ``path`` 0600 if absent, and make an existing one 0600 (SQLite gives its -wal and
    -shm files the database's mode). Not on Windows, where the state folder's ACL protects."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", FILE_MODE)


def peek_set_aside(path: Path) -> int:
    """How many reports the server refused for their content (for status; 0 without a spool)."""
    if not path.is_file():
        return 0
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0
    try:
        row = db.execute("SELECT value FROM meta WHERE key = 'set_aside_total'").fetchone()
        return 0 if row is None else int(row[0])
    except sqlite3.Error:
        return 0
    finally:
        db.close()


def peek_depth(path: Path) -> tuple[int, int, int] | None:
    """``(depth, epoch, last_seq)`` of a spool without creating or changing it (for status)."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        depth = int(db.execute("SELECT count(*) FROM reports").fetchone()[0])
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        return depth, int(meta["epoch"]), int(meta["next_seq"]) - 1
    except (sqlite3.Error, KeyError):
        return None
    finally:
        db.close()


def peek_uploads(path: Path) -> int:
    """How many evidence archives wait for the server (for status; 0 without a spool)."""
    if not path.is_file():
        return 0
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return 0
    try:
        return int(db.execute("SELECT count(*) FROM uploads").fetchone()[0])
    except sqlite3.Error:
        return 0  # a spool from before evidence uploads: none wait
    finally:
        db.close()
