"""CPU per request of the connection files cheroot reads and writes through: its own (pure-Python
``_pyio``, cheroot.makefile) against server/socket_files.py.

One thread reads what a report's request is (the request line, eight headers through cheroot's
own ``SizeCheckWrapper`` as cheroot reads them, a 9 KB body) and writes a small answer, over
Unix socket pairs fed and drained by other threads; the figure is that thread's CPU time per
request. No TLS: a TLS read costs the same under either file, so it is left out of the
difference.

    .venv/bin/python -m bench.connection_files
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from cheroot.makefile import StreamReader, StreamWriter
from cheroot.server import SizeCheckWrapper

from server.socket_files import SocketReader, SocketWriter

HEADERS = (
    b"POST /api/v1/agent/reports HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8443\r\n"
    b"Accept-Encoding: identity\r\n"
    b"Content-Length: 9066\r\n"
    b"X-Xunjian-Agent: 7c9e6679-7425-40de-944b-e07fc1f90ae7\r\n"
    b"X-Xunjian-Timestamp: 2026-12-07T10:00:00Z\r\n"
    b"X-Xunjian-Nonce: 0123456789abcdef0123456789abcdef\r\n"
    b"X-Xunjian-Signature: " + b"A" * 88 + b"\r\n"
    b"Content-Type: application/json\r\n\r\n"
)
BODY_SIZE = 9066
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n"


def cpu_per_request(
    make_reader: Callable[[socket.socket], Any],
    make_writer: Callable[[socket.socket], Any],
    requests: int,
) -> float:
    """Microseconds of this thread's CPU per request read and answered."""
    incoming, feeder = socket.socketpair()
    outgoing, drain = socket.socketpair()
    request = HEADERS + b"x" * BODY_SIZE

    def feed() -> None:
        for _ in range(requests):
            feeder.sendall(request)

    def empty() -> None:
        while drain.recv(1 << 16):
            pass

    threads = [threading.Thread(target=feed), threading.Thread(target=empty)]
    for thread in threads:
        thread.start()
    reader, writer = make_reader(incoming), make_writer(outgoing)
    spent = 0.0
    for _ in range(requests):
        started = time.thread_time()
        lines = SizeCheckWrapper(reader, 1 << 20)
        lines.readline()
        while lines.readline() != b"\r\n":
            pass
        body = reader.read(BODY_SIZE)
        writer.write(ANSWER)
        writer.write(b"{}")
        spent += time.thread_time() - started
        assert len(body) == BODY_SIZE
    threads[0].join()
    outgoing.shutdown(socket.SHUT_WR)
    threads[1].join()
    for end in (incoming, feeder, outgoing, drain):
        end.close()
    return spent / requests * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    for round_ in range(1, options.rounds + 1):
        theirs = cpu_per_request(
            lambda s: StreamReader(s, "rb", 8192),
            lambda s: StreamWriter(s, "wb", 8192),
            options.requests,
        )
        ours = cpu_per_request(SocketReader, SocketWriter, options.requests)
        print(
            f"round {round_}: cheroot.makefile {theirs:6.1f} us/request, "
            f"server/socket_files.py {ours:6.1f} us/request",
            flush=True,
        )


if __name__ == "__main__":
    main()
