"""Running commands for collectors: no shell, a timeout, bounded output."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from checks.errors import CommandError, CommandTimeout, CommandUnavailable

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    truncated: bool


class _BoundedReader(threading.Thread):
    """Keeps the first `limit` bytes of a pipe and discards the rest, so a chatty program
    neither fills our memory nor blocks on a full pipe."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._limit = limit
        self.data = bytearray()
        self.truncated = False

    def run(self) -> None:
        while chunk := self._stream.read(_READ_CHUNK):
            room = self._limit - len(self.data)
            if room > 0:
                self.data.extend(chunk[:room])
            if len(chunk) > room:
                self.truncated = True


class CommandRunner:
    """The one way collectors run programs. Tests may pass another object with `run`."""

    def __init__(
        self,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        self.timeout = timeout
        self.max_output_bytes = max_output_bytes

    def run(self, argv: Sequence[str], timeout: float | None = None) -> CommandResult:
        if not argv:
            raise CommandError("empty command")
        limit = self.timeout if timeout is None else timeout
        # A fixed C locale keeps the output parseable whatever the host's language is.
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        try:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                # Its own process group, so a timeout stops the program's children too.
                start_new_session=os.name == "posix",
            )
        except FileNotFoundError as exc:
            raise CommandUnavailable(f"{argv[0]} is not installed") from exc
        except PermissionError as exc:
            raise CommandError(f"{argv[0]} cannot be executed: {exc}") from exc
        assert process.stdout is not None and process.stderr is not None
        readers = [
            _BoundedReader(process.stdout, self.max_output_bytes),
            _BoundedReader(process.stderr, self.max_output_bytes),
        ]
        for reader in readers:
            reader.start()
        try:
            returncode = process.wait(timeout=limit)
        except subprocess.TimeoutExpired as exc:
            _kill_tree(process)
            process.wait()
            raise CommandTimeout(f"{argv[0]} ran longer than {limit:g} s and was stopped") from exc
        finally:
            for reader in readers:
                # A grandchild may keep the pipe open after the program exits; do not wait on it.
                reader.join(timeout=limit)
            process.stdout.close()
            process.stderr.close()
        out, err = readers
        return CommandResult(
            argv=tuple(argv),
            returncode=returncode,
            stdout=out.data.decode("utf-8", errors="replace"),
            stderr=err.data.decode("utf-8", errors="replace"),
            truncated=out.truncated or err.truncated,
        )


def _kill_tree(process: subprocess.Popen[bytes]) -> None:
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    else:
        process.kill()
