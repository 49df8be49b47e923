"""A real crash test: a child process works on the spool and is killed with SIGKILL at random
moments; after each kill the spool must be intact, have lost nothing it had committed, and
never hand out a number twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

WRITER = Path(__file__).with_name("spool_writer.py")
ROUNDS = 12

pytestmark = pytest.mark.skipif(os.name == "nt", reason="SIGKILL")


def _covered_by_gaps(db: sqlite3.Connection) -> set[int]:
    covered: set[int] = set()
    for from_seq, to_seq in db.execute("SELECT from_seq, to_seq FROM pending_gaps"):
        covered.update(range(from_seq, to_seq + 1))
    for (gaps_text,) in db.execute("SELECT gaps FROM reports"):
        for gap in json.loads(gaps_text):
            covered.update(range(gap["from_seq"], gap["to_seq"] + 1))
    return covered


def _run_and_kill(path: Path, seed: int, rng: random.Random) -> list[tuple[str, int]]:
    child = subprocess.Popen(
        [sys.executable, str(WRITER), str(path), "20", str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    first = child.stdout.readline()
    assert first.startswith("ready"), f"the spool writer did not start: {first!r}"
    # A random moment inside the child's busy loop: anywhere in a transaction, or between two.
    time.sleep(rng.uniform(0.0, 0.25))
    child.send_signal(signal.SIGKILL)
    # Read the rest through the same buffered stream as the first line: communicate() reads
    # the raw pipe and would silently skip whatever readline() had already buffered.
    out = child.stdout.read()
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    steps: list[tuple[str, int]] = []
    for line in out.split("\n")[:-1]:  # the last piece may be a half-written line
        word, *numbers = line.split()
        steps += [(word, int(number)) for number in numbers]
    return steps


def test_sigkill_at_random_moments_loses_nothing_and_reuses_no_number(tmp_path: Path) -> None:
    rng = random.Random()
    path = tmp_path / "spool.db"
    appended: list[int] = []
    confirmed: set[int] = set()
    intents: set[int] = set()
    epoch: int | None = None
    highest_seen = 0
    for round_number in range(ROUNDS):
        steps = _run_and_kill(path, rng.randrange(1 << 30), rng)
        round_appends = [number for word, number in steps if word == "A"]
        # Numbers keep rising across restarts: nothing handed out before is handed out again.
        if round_appends:
            assert round_appends[0] > highest_seen, (round_number, round_appends[0], highest_seen)
            assert round_appends == sorted(set(round_appends))
        appended += round_appends
        confirmed |= {number for word, number in steps if word == "C"}
        intents |= {number for word, number in steps if word == "c"}

        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            meta = dict(db.execute("SELECT key, value FROM meta"))
            if epoch is None:
                epoch = meta["epoch"]
            assert meta["epoch"] == epoch
            present = {seq for (seq,) in db.execute("SELECT seq FROM reports")}
            covered = _covered_by_gaps(db)
            next_seq = meta["next_seq"]
        finally:
            db.close()
        # Every committed append is still queued, or confirmed (itself or a gap naming it went
        # out with a confirmed report), or reported as a gap still waiting to go.
        for number in appended:
            assert (
                number in present or number in confirmed or number in covered or (number in intents)
            ), f"report {number} vanished after kill in round {round_number}"
        # Whatever the database holds was numbered below the counter.
        everything = present | covered | set(appended)
        assert all(number < next_seq for number in everything)
        highest_seen = max(everything | {highest_seen, next_seq - 1})
    assert len(appended) > ROUNDS, "the child barely ran; the test proved little"
