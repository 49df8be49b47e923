"""How long a device check's default-credential probe takes, and how evenly it paces its
attempts, against a real OpenSSH server on loopback (tests/devices/sshd.py; run as root).

    .venv/bin/python -m bench.devices_probe [--interval-ms 2000] [--tries 8]

Prints the time to ask for the offered methods (no password), the time of the whole probe,
the gaps between password attempts as sshd logged them (whole seconds, its log's resolution)
and as the prober saw them, and sshd's count of attempts. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time

from server.devices.defaults import Credential
from server.devices.prober import ProbeSettings, _Pacer, probe
from tests.devices.sshd import Sshd


class _TimedPacer(_Pacer):
    def __init__(self, interval: float) -> None:
        super().__init__(interval)
        self.stamps: list[float] = []

    def wait(self) -> None:
        super().wait()
        self.stamps.append(time.monotonic())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval-ms", type=int, default=2000)
    parser.add_argument("--tries", type=int, default=8)
    args = parser.parse_args()
    daemon = Sshd.make()
    try:
        user = daemon.add_account("bench", "k7#Rq-strong-2026-bench!").name
        keyonly = daemon.add_account("keys", "k7#Rq-other-2026", password_login=False).name
        daemon.start()
        settings = ProbeSettings(args.interval_ms / 1000, max_attempts=args.tries, timeout=10)
        started = time.monotonic()
        only_methods = probe("127.0.0.1", daemon.port, [Credential(keyonly, "x")], settings)
        methods_seconds = time.monotonic() - started
        tries = [Credential(user, f"wrong-{n}") for n in range(args.tries)]
        pacer = _TimedPacer(settings.attempt_interval)
        started = time.monotonic()
        outcome = probe("127.0.0.1", daemon.port, tries, settings, pacer)
        total = time.monotonic() - started
        gaps = [b - a for a, b in zip(pacer.stamps, pacer.stamps[1:], strict=False)]
        print(f"ask methods (one connection, no password): {methods_seconds * 1000:.0f} ms "
              f"({only_methods.outcome})")  # fmt: skip
        print(f"probe of {args.tries} wrong passwords at {args.interval_ms} ms: {total:.2f} s, "
              f"outcome {outcome.outcome}, {outcome.attempts} attempts")  # fmt: skip
        if gaps:
            print(f"gaps between attempts: min {min(gaps):.3f} s, mean "
                  f"{statistics.mean(gaps):.3f} s, max {max(gaps):.3f} s")  # fmt: skip
        print(f"sshd logged {daemon.password_attempts(user)} password attempts")
    finally:
        daemon.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
