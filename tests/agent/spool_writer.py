"""Child process for the kill test: appends, confirms and rejects on a spool forever, printing
each step *after* it committed ("A 7", "C 3", "R 4") and each confirmation's intent before
("c 3", and "c 1 2" for the numbers its gaps cover), so the parent knows what must have
survived a SIGKILL at any moment."""

from __future__ import annotations

import random
import sys
from pathlib import Path

from agent.spool import Spool


def main() -> None:
    path, max_rows, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(seed)
    spool = Spool(path, max_rows=max_rows, max_bytes=10_000_000)
    print("ready", spool.epoch, flush=True)
    while True:
        roll = rng.random()
        if roll < 0.7:
            kind = "scan" if rng.random() < 0.7 else "inventory"
            seq = spool.append(kind, {"results": ["x" * rng.randint(0, 3000)]})
            print("A", seq, flush=True)
        elif roll < 0.95:
            oldest = spool.oldest()
            if oldest:
                # The gaps it carries are delivered with it; say so before they leave the spool.
                for gap in oldest[0].gaps:
                    print("c", *range(gap.from_seq, gap.to_seq + 1), flush=True)
                print("c", oldest[0].seq, flush=True)
                spool.confirm(oldest[0].seq)
                print("C", oldest[0].seq, flush=True)
        else:
            oldest = spool.oldest()
            if oldest:
                spool.reject(oldest[0].seq, "rejected")
                print("R", oldest[0].seq, flush=True)


if __name__ == "__main__":
    main()
