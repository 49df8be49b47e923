"""xunjian does not flag itself (issue 13 item 3): its own server, agent and demo, and the
workers they spawn, are told apart from a stray listener by their command lines; every listener
is named by its whole command line and its owner, so two python processes are not one
"python".

The live test starts real processes on loopback: a script named ``xunjian`` (as the installed
entry point is) that spawns a listening worker with multiprocessing, exactly as
``xunjian server run`` starts its workers, and a plain python listener beside it."""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from checks.collectors.linux.processes import collect_listening_programs
from checks.facts import ListeningProgram
from checks.host import HostContext
from checks.library.software import is_xunjian_process, unpackaged_listeners
from checks.model import Status
from tests.checks.facts_tables import program

PYENV = "/root/.pyenv/versions/3.12.7/bin/python3.12"
SERVER = (PYENV, "/opt/xunjian/.venv/bin/xunjian", "server", "run", "--data", "/srv/xj")
SPAWNED = (
    PYENV,
    "-c",
    "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=5, pipe_handle=7)",
    "--multiprocessing-fork",
)


def listener(pid: int, command: tuple[str, ...], parent: tuple[str, ...] = ()) -> ListeningProgram:
    return dataclasses.replace(
        program(pid, PYENV, ("tcp/8443",), None),
        command=command,
        user="xunjian",
        parent_command=parent,
    )


class _Facts:
    def __init__(self, programs: tuple[ListeningProgram, ...]) -> None:
        self.listening_programs = programs


def judge(*programs: ListeningProgram) -> list:
    return unpackaged_listeners(_Facts(programs), {"exempt_paths": []})  # type: ignore[arg-type]


def test_xunjian_and_its_workers_are_its_own() -> None:
    assert is_xunjian_process(listener(1, SERVER))
    assert is_xunjian_process(listener(2, (PYENV, "-m", "xunjian", "agent", "run")))
    assert is_xunjian_process(listener(3, ("/usr/local/bin/xunjian", "demo", "--data", "d")))
    assert is_xunjian_process(listener(4, SPAWNED, parent=SERVER))
    # Not ours: another program's spawned worker, a script merely named like ours without a
    # service, and a python listener of any other kind.
    assert not is_xunjian_process(listener(5, SPAWNED, parent=(PYENV, "/srv/app/main.py")))
    assert not is_xunjian_process(listener(6, (PYENV, "/tmp/xunjian", "scan")))
    assert not is_xunjian_process(listener(7, (PYENV, "-m", "http.server", "8000")))


def test_own_listeners_pass_with_their_command_lines_and_a_stray_is_named_fully() -> None:
    [only_own] = judge(listener(1, SERVER), listener(4, SPAWNED, parent=SERVER))
    assert only_own.status is Status.PASS
    assert [entry["pid"] for entry in only_own.evidence["xunjian"]] == [1, 4]
    assert only_own.evidence["xunjian"][0]["command"].endswith("xunjian server run --data /srv/xj")

    stray = listener(9, (PYENV, "-m", "http.server", "8000"))
    findings = judge(listener(1, SERVER), stray)
    assert [(f.status, f.resource) for f in findings] == [(Status.FAIL, f"program:{PYENV}")]
    message = findings[0].message
    assert f"{PYENV} -m http.server 8000 (pid 9, user xunjian)" in message
    assert findings[0].evidence["user"] == "xunjian"


WORKER_SCRIPT = """
import multiprocessing, socket, sys, time

def serve(queue):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        queue.put(listener.getsockname()[1])
        time.sleep(60)

if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=serve, args=(queue,), daemon=True)
    child.start()
    print(queue.get(), flush=True)
    time.sleep(60)
"""


def test_live_xunjian_workers_and_a_plain_python_listener(tmp_path: Path) -> None:
    entry = tmp_path / "bin" / "xunjian"
    entry.parent.mkdir()
    entry.write_text(WORKER_SCRIPT)
    ours = subprocess.Popen(
        [sys.executable, str(entry), "server", "run"], stdout=subprocess.PIPE, text=True
    )
    plain = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    spawned: list[int] = []
    try:
        assert ours.stdout is not None
        port = int(ours.stdout.readline())
        deadline = time.monotonic() + 20
        while True:
            found = collect_listening_programs(HostContext.live())
            theirs = [p for p in found if p.pid == plain.pid]
            if theirs or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        [worker] = [p for p in found if f"tcp/{port}" in p.ports]
        spawned.append(worker.pid)
        assert "--multiprocessing-fork" in worker.command
        assert worker.parent_command[1:] == (str(entry), "server", "run")
        assert worker.user == getpass.getuser()
        assert is_xunjian_process(worker)
        [http] = theirs
        assert http.command[1:3] == ("-m", "http.server")
        assert not is_xunjian_process(http)
        assert worker.pid != os.getpid()
    finally:
        for process in (ours, plain):
            process.kill()
            process.wait()
        for pid in spawned:  # the worker outlives a killed parent: end it by its own id
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
