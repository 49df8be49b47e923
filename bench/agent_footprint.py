"""The agent's footprint: resident memory when idle, and CPU time for one full scan.

    .venv/bin/python -m bench.agent_footprint

A real server and a real enrolled ``xunjian agent run`` process on loopback. After the agent's
first report it sits idle (heartbeats only) and its resident set is sampled from /proc. The scan
figure is the CPU time of ``run_scan()`` in a fresh process, and of the whole ``xunjian scan
--json`` command (interpreter start included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.harness import XUNJIAN, AgentUnderTest, ServerUnderTest, wait_for

SCAN_CPU_PROBE = """
import json, time
from checks.api import run_scan
started = time.process_time()
results = run_scan()
print(json.dumps({"cpu": time.process_time() - started, "results": len(results)}))
"""


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS line")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-seconds", type=float, default=30)
    parser.add_argument("--scans", type=int, default=5)
    options = parser.parse_args()
    # The agent must be a new interpreter: forked from the test zygote it would carry the
    # server's imports (Flask, SQLAlchemy) and measure 94 MiB instead of its own footprint.
    os.environ["XUNJIAN_TESTS_NO_ZYGOTE"] = "1"

    with tempfile.TemporaryDirectory(prefix="xunjian-bench-") as scratch:
        server = ServerUnderTest(Path(scratch) / "server")
        server.init()
        server.start()
        agent = AgentUnderTest(Path(scratch) / "agent")
        try:
            agent.enroll(server.create_token())
            # The agent's production defaults, but for the start delay: scans hourly (the
            # server's policy), heartbeats every minute.
            config = json.loads((agent.state / "agent.json").read_text())
            config["start_delay_max_seconds"] = 0
            (agent.state / "agent.json").write_text(json.dumps(config))
            agent.start()
            assert agent.process is not None
            wait_for("the first report", lambda: agent.status().get("last_report_at"), 120)
            samples = []
            deadline = time.monotonic() + options.idle_seconds
            while time.monotonic() < deadline:
                samples.append(_rss_kib(agent.process.pid))
                time.sleep(1)
        finally:
            agent.stop()
            server.stop()

    in_process = []
    for _ in range(options.scans):
        done = subprocess.run(
            [sys.executable, "-c", SCAN_CPU_PROBE], capture_output=True, text=True, check=True
        )
        in_process.append(json.loads(done.stdout.strip().splitlines()[-1]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(options.scans):
        subprocess.run([*XUNJIAN, "scan", "--json"], capture_output=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    command_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)

    print(
        f"agent idle RSS:          median {statistics.median(samples) / 1024:.1f} MiB, "
        f"max {max(samples) / 1024:.1f} MiB over {len(samples)} samples"
    )
    print(
        f"one full scan, CPU:      {statistics.median(r['cpu'] for r in in_process) * 1000:.0f} ms "
        f"(run_scan(), {in_process[0]['results']} results, median of {options.scans})"
    )
    print(
        f"`xunjian scan --json`:   {command_cpu / options.scans * 1000:.0f} ms CPU per run "
        f"(interpreter start included)"
    )


if __name__ == "__main__":
    main()
