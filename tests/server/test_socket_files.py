"""server/socket_files.py: the connection files cheroot reads requests from and writes answers
to, over a real socket pair. Lines split across reads, limits, exact and short reads, what a
pipelined request leaves buffered, and the counts cheroot keeps. (The real server reads every
request through them: tests/server/test_serve.py and the integration tests.)"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from server.socket_files import READ_SIZE, SocketReader, SocketWriter, make_file


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.settimeout(5)
    yield ours, theirs
    ours.close()
    theirs.close()


def send_slowly(sock: socket.socket, pieces: list[bytes]) -> threading.Thread:
    """Each piece as its own write, so the reader gets them as separate reads."""

    def run() -> None:
        for piece in pieces:
            sock.sendall(piece)
            threading.Event().wait(0.02)
        sock.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_lines_split_across_reads_and_what_is_left_after_them(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    sender = send_slowly(
        theirs, [b"POST /a HT", b"TP/1.1\r\nHost: x\r", b"\nContent-Length: 4\r\n\r\nbodyGET"]
    )
    reader = SocketReader(ours)
    assert reader.readline() == b"POST /a HTTP/1.1\r\n"
    assert reader.readline() == b"Host: x\r\n"
    assert reader.readline() == b"Content-Length: 4\r\n"
    assert reader.readline() == b"\r\n"
    assert reader.read(4) == b"body"
    assert reader.has_data(), "the next (pipelined) request's start is buffered"
    assert reader.readline() == b"GET", "the end of the stream ends a line without a newline"
    assert not reader.has_data()
    assert reader.readline() == b"" and reader.read(10) == b""
    assert reader.bytes_read == len(
        b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbodyGET"
    )
    sender.join()


def test_a_line_limit_is_kept_as_cheroot_reads_long_lines_in_pieces(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    theirs.sendall(b"x" * 600 + b"\nrest\n")
    theirs.shutdown(socket.SHUT_WR)
    reader = SocketReader(ours)
    assert reader.readline(256) == b"x" * 256
    assert reader.readline(256) == b"x" * 256
    assert reader.readline(256) == b"x" * 88 + b"\n"
    assert reader.readline(0) == b""
    assert reader.readline(3) == b"res"
    assert list(reader) == [b"t\n"]


def test_a_large_body_read_exactly_and_a_short_one_at_the_end(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    body = bytes(range(256)) * (3 * READ_SIZE // 256 + 7)
    sender = threading.Thread(
        target=lambda: (theirs.sendall(body + b"tail"), theirs.shutdown(socket.SHUT_WR))
    )
    sender.start()
    reader = SocketReader(ours)
    assert reader.read(len(body)) == body
    assert reader.read(100) == b"tail", "fewer bytes only at the end of the stream"
    sender.join()
    assert reader.bytes_read == len(body) + 4


def test_read_all_and_readlines(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, theirs = pair
    sender = send_slowly(theirs, [b"a\nb", b"\nc"])
    reader = SocketReader(ours)
    assert reader.readline() == b"a\n"
    assert reader.read() == b"b\nc"
    sender.join()
    ours2, theirs2 = socket.socketpair()
    with ours2, theirs2:
        theirs2.sendall(b"1\n2\n3\n")
        theirs2.shutdown(socket.SHUT_WR)
        assert SocketReader(ours2).readlines() == [b"1\n", b"2\n", b"3\n"]


def test_a_timeout_is_the_socket_s_own_error(pair: tuple[socket.socket, socket.socket]) -> None:
    ours, _theirs = pair
    ours.settimeout(0.1)
    reader = SocketReader(ours)
    with pytest.raises(TimeoutError):
        reader.readline()


def test_the_writer_sends_each_write_and_counts(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    ours, theirs = pair
    writer = make_file(ours, "wb", 8192)
    assert isinstance(writer, SocketWriter)
    assert isinstance(make_file(ours, "rb", -1), SocketReader)
    theirs.settimeout(5)
    writer.write(b"HTTP/1.1 200 OK\r\n")
    assert theirs.recv(100) == b"HTTP/1.1 200 OK\r\n", "sent at the write (cheroot never flushes)"
    writer.write(b"x" * 20000)
    writer.write(b"end")
    writer.close()
    assert writer.bytes_written == 17 + 20000 + 3
    received = b""
    while len(received) < 20003:
        received += theirs.recv(65536)
    assert received == b"x" * 20000 + b"end"
    with pytest.raises(ValueError):
        writer.write(b"more")
