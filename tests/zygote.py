"""Real ``xunjian server run`` and ``xunjian agent run`` processes, forked from an interpreter that
has imported xunjian once, instead of a new interpreter each time (docs/PERFORMANCE.md, "Test
suite").

Why: a new interpreter spends about 2 s of CPU importing the server (Flask, SQLAlchemy, every
feature) before it answers, and the suite starts a few hundred servers and agents. The zygote is
one process per pytest-xdist worker that imports those modules and then only forks: each child
runs the command's own ``main()`` with the test's arguments, environment, working folder and
log file, as a process of its own (its own pid, port, signals and exit status). What the child
shares with a fresh interpreter's run is everything but the import work: the zygote makes no
engine, thread, socket or file the child could inherit except its control socket, which the
child closes first.

Protocol: one JSON line per request on a Unix socket, answered with the child's pid. The zygote
reaps its children and writes each exit status to ``<pid>.status`` in its folder, which
``ForkedProcess`` (the test side, a small ``subprocess.Popen`` look-alike) reads.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# Packages whose modules a server or agent start would import; migrations (run by Alembic, not
# imported) and server.wsgi (builds an app on import, on purpose) are left out.
PRELOAD_PACKAGES = ("xunjian", "server", "agent", "checks")
NOT_PRELOADED = ("server.migrations", "server.wsgi", "agent.scan_worker", "checks.docs")


class ForkedProcess:
    """The parts of ``subprocess.Popen`` the harness uses, for a child of the zygote."""

    def __init__(self, pid: int, status_dir: Path) -> None:
        self.pid = pid
        self._status = status_dir / f"{pid}.status"
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self._status.exists():
            text = self._status.read_text().strip()
            if text:
                self.returncode = int(text)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.02)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, number: int) -> None:
        # The status file is written when the zygote reaps the child; until then the pid is
        # still this child's (a zombie at worst), so it cannot name another process.
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, number)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The test side: starts the zygote on first use and asks it for children."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="xunjian-zygote-"))
        self.socket_path = self.folder / "control"
        self.process: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    def _start(self) -> None:
        log = (self.folder / "zygote.log").open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.zygote", str(self.folder)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[1],
        )
        deadline = time.monotonic() + 120
        while not (self.folder / "ready").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    "the test zygote did not start:\n"
                    + (self.folder / "zygote.log").read_text(errors="replace")
                )
            time.sleep(0.05)

    def spawn(self, argv: list[str], log_path: Path, cwd: Path | None = None) -> ForkedProcess:
        """``xunjian ARGV`` as a forked child writing stdout and stderr to ``log_path``."""
        request = {
            "argv": argv,
            "env": dict(os.environ),
            "cwd": str(cwd or Path.cwd()),
            "log": str(log_path),
        }
        with self.lock:
            if self.process is None or self.process.poll() is not None:
                self._start()
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.connect(str(self.socket_path))
                client.sendall(json.dumps(request).encode() + b"\n")
                answer = client.makefile("rb").readline()
        if not answer:
            raise AssertionError(
                "the test zygote did not answer:\n"
                + (self.folder / "zygote.log").read_text(errors="replace")
            )
        return ForkedProcess(int(json.loads(answer)["pid"]), self.folder)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


_ZYGOTE: Zygote | None = None


def zygote() -> Zygote:
    """This test process's zygote (one per pytest-xdist worker), closed when the process ends."""
    global _ZYGOTE
    if _ZYGOTE is None:
        _ZYGOTE = Zygote()
        atexit.register(_ZYGOTE.close)
    return _ZYGOTE


# -- the zygote process ---------------------------------------------------------------------------
def _preload() -> None:
    import importlib
    import pkgutil

    for package_name in PRELOAD_PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if module.name.startswith(NOT_PRELOADED):
                continue
            # An optional module (Windows-only, say) that fails to import is simply not preloaded.
            with contextlib.suppress(Exception):
                importlib.import_module(module.name)


def _run_child(request: dict[str, Any]) -> int:
    """In the forked child: become ``xunjian ARGV`` and return its exit status."""
    for number in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the process's own stdio
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    import xunjian.cli

    # As under `python -m xunjian.cli`: multiprocessing's spawned workers import the main
    # module by this name.
    sys.modules["__main__"] = xunjian.cli
    sys.argv = [xunjian.cli.__file__, *request["argv"]]
    try:
        return int(xunjian.cli.main(request["argv"]) or 0)
    except SystemExit as exit_:
        code = exit_.code
        if isinstance(code, str):
            print(code, file=sys.stderr)
            return 1
        return int(code or 0)
    except BaseException:
        traceback.print_exc()
        return 1


def _finish_child(status: int) -> None:
    """What an interpreter does at exit (non-daemon threads joined, atexit run), then exit."""
    try:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and not thread.daemon:
                thread.join()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


def _reap(folder: Path) -> None:
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        status = os.waitstatus_to_exitcode(wait_status)
        partial = folder / f"{pid}.status.partial"
        partial.write_text(str(status))
        partial.rename(folder / f"{pid}.status")


def serve(folder: Path) -> None:
    _preload()
    # The preloaded modules' objects out of the collector's reach: otherwise each child's first
    # whole-heap collection walks them all and writes to every object's header, copying most of
    # the zygote's pages into the child. Measured over 20 children (a test's servers and
    # agents): 267,247 -> 193,138 minor page faults, 7.5 -> 6.4 s of CPU (gc.freeze is made
    # for exactly this, before forking workers).
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(folder / "control"))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = False

    def on_term(_number: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    (folder / "ready").touch()
    while not stop:
        _reap(folder)
        try:
            connection, _address = listener.accept()
        except TimeoutError:
            continue
        with connection:
            connection.settimeout(30)
            request = json.loads(connection.makefile("rb").readline())
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                connection.close()
                listener.close()
                _finish_child(_run_child(request))
            # pid_max is 32,768 here and a whole run forks tens of thousands of processes:
            # an earlier child of this zygote may have had the same pid, and its status file
            # would make the new child look exited at once ("server exited 0" with an empty
            # log, seen once in a loaded run). This loop alone reaps, so the new child's own
            # status cannot be written before this.
            (folder / f"{pid}.status").unlink(missing_ok=True)
            connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    _reap(folder)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
