"""The connection's reader and writer for cheroot, in place of cheroot.makefile's.

cheroot builds its socket files on ``_pyio``, the pure-Python ``io``: every header line read
runs a Python loop of peeks and reads, and every write a Python copy into a bytearray before
it is sent. py-spy over bench/intake.py showed them among a report request's samples (cheroot's
``SizeCheckWrapper.readline`` 8 % of the request threads' GIL samples, its writes about 8 %).
``SocketReader`` finds a line with one ``bytes.find`` and slices it out; ``SocketWriter`` sends
each write whole with ``sendall``, as cheroot's own writer does after its copy. Measured with
bench/connection_files.py (a report's request line, headers and 9 KB body, and an answer):
55-94 us of CPU per request with cheroot's files, 20-30 us with these, about 4 % of the
server's CPU per unchanged report (1.1-1.5 ms); whole bench.intake runs move more than that
with the machine's own speed, so they show no difference beyond their noise. Both keep what
cheroot asks of its files (``has_data``, ``bytes_read``, ``bytes_written``, iteration, close)
and use the socket as cheroot's do (reads through ``socket.SocketIO``), so timeouts and
closed peers raise the same errors.
"""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator

# Read from the socket at least this much at a time: a report's request (headers and a 9 KB
# body) arrives in one or two reads.
READ_SIZE = 16 * 1024
# The most one read asks of the socket (the buffer for it is allocated whole).
MAX_READ = 256 * 1024


class SocketReader:
    """A buffered reader over a (TLS) socket: read, readline, has_data, for cheroot."""

    def __init__(self, sock: socket.socket, bufsize: int = io.DEFAULT_BUFFER_SIZE) -> None:
        self._raw = socket.SocketIO(sock, "rb")
        self._read_size = max(bufsize, READ_SIZE)
        self._buffer = b""
        self._position = 0
        self.bytes_read = 0

    @property
    def closed(self) -> bool:
        return self._raw.closed

    def close(self) -> None:
        self._raw.close()

    def has_data(self) -> bool:
        """Bytes already read from the socket and not yet taken (a pipelined request)."""
        return self._position < len(self._buffer)

    def _fill(self) -> bool:
        """Append one read from the socket to what is left; False at the end of the stream."""
        chunk = self._raw.read(self._read_size)
        if not chunk:  # b"" at EOF (None only on a non-blocking socket, which cheroot's are not)
            return False
        left = self._buffer[self._position :]
        self._buffer = left + chunk if left else chunk
        self._position = 0
        return True

    def _take(self, end: int) -> bytes:
        data = self._buffer[self._position : end]
        self._position = end
        self.bytes_read += len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        """Up to and including the next newline, at most ``size`` bytes (all if negative)."""
        limit = -1 if size is None else size
        searched = self._position
        while True:
            found = self._buffer.find(b"\n", searched)
            if found >= 0:
                end = found + 1
                if 0 <= limit < end - self._position:
                    end = self._position + limit
                return self._take(end)
            available = len(self._buffer) - self._position
            if 0 <= limit <= available:
                return self._take(self._position + limit)
            if not self._fill():
                return self._take(len(self._buffer))
            searched = available  # the bytes kept from before the read hold no newline

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes, fewer only at the end of the stream (all of it if negative)."""
        wanted = -1 if size is None else size
        available = len(self._buffer) - self._position
        if 0 <= wanted <= available:
            return self._take(self._position + wanted)
        # A body: gathered in parts, not by growing the buffer at each read.
        parts = [self._buffer[self._position :]]
        self._buffer, self._position = b"", 0
        have = available
        while wanted < 0 or have < wanted:
            room = READ_SIZE if wanted < 0 else max(wanted - have, READ_SIZE)
            chunk = self._raw.read(min(room, MAX_READ))
            if not chunk:
                break
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        if 0 <= wanted < len(data):
            self._buffer = data[wanted:]
            data = data[:wanted]
        self.bytes_read += len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        total = 0
        while line := self.readline():
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


class SocketWriter:
    """Writes straight through to the socket, counting what was written, for cheroot: its own
    writer sends at every write too (cheroot never flushes an answer itself)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._closed = False
        self.bytes_written = 0

    @property
    def closed(self) -> bool:
        return self._closed

    def write(self, data: bytes) -> int:
        if self._closed:
            raise ValueError("write to a closed connection file")
        self._sock.sendall(data)
        self.bytes_written += len(data)
        return len(data)

    def flush(self) -> None:
        """Nothing is held back."""

    def close(self) -> None:
        self._closed = True  # the socket is cheroot's to close


def make_file(
    sock: socket.socket, mode: str = "r", bufsize: int = io.DEFAULT_BUFFER_SIZE
) -> SocketReader | SocketWriter:
    """cheroot's ``makefile(sock, mode, bufsize)``: a reader for "r" modes, else a writer."""
    if bufsize is None or bufsize < 0:
        bufsize = io.DEFAULT_BUFFER_SIZE
    return SocketReader(sock, bufsize) if "r" in mode else SocketWriter(sock)
