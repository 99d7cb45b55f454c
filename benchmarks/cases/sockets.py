"""Sockets: echo round trips and bulk transfer.

The echo rows run one-byte round trips through a socket pair whose far end
is a plain thread echoing back: with ``threado.socket`` in a threado thread,
and with ``threado.socket`` in a plain thread (what a patched stdlib socket
costs a thread nobody can cancel). The bulk row sends ``BULK_BYTES`` through
a TCP loopback connection. Cancelling a thread parked in ``recv`` is a row
of :mod:`cases.cancel`.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from harness import Case, TimeCase

import threado
import threado.socket

ECHO_CHUNK = b"x"
BULK_BYTES = 32 * 1024 * 1024
BULK_CHUNK = 256 * 1024


def _echo_server(sock: Any) -> None:
    """Echo until the peer closes (runs in a plain thread: the far end)."""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


def _echo_round_trips(make_pair: Callable[[], tuple[Any, Any]], in_threado: bool, n: int) -> int:
    """n one-byte echo round trips; the client runs in a threado thread or a plain one."""
    a, b = make_pair()
    server = threading.Thread(target=_echo_server, args=(b,))
    server.start()
    out: list[int] = []

    def client() -> None:
        recv, send = a.recv, a.send
        t0 = perf_counter_ns()
        for _ in range(n):
            send(ECHO_CHUNK)
            recv(1)
        out.append(perf_counter_ns() - t0)

    try:
        if in_threado:
            threado.spawn(client).join()
        else:
            c = threading.Thread(target=client)
            c.start()
            c.join()
    finally:
        a.close()
        server.join()
        b.close()
    return out[0]


def stdlib_echo(n: int) -> int:
    return _echo_round_trips(socket.socketpair, False, n)


def threado_echo(n: int) -> int:
    return _echo_round_trips(threado.socket.socketpair, True, n)


def threado_echo_uncancellable(n: int) -> int:
    return _echo_round_trips(threado.socket.socketpair, False, n)


def _bulk(
    make_server: Callable[..., Any], connect: Callable[..., Any], in_threado: bool, n: int
) -> int:
    """Send n * BULK_BYTES through a TCP loopback connection; time it."""
    listener = make_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[int] = []

    def receive() -> None:
        conn, _ = listener.accept()
        total = 0
        with conn:
            while True:
                data = conn.recv(BULK_CHUNK)
                if not data:
                    break
                total += len(data)
        received.append(total)

    def send_all() -> None:
        payload = b"\0" * BULK_CHUNK
        with connect(("127.0.0.1", port)) as s:
            for _ in range(n * BULK_BYTES // BULK_CHUNK):
                s.sendall(payload)

    t0 = perf_counter_ns()
    if in_threado:
        with threado.ThreadGroup() as g:
            g.spawn(receive)
            g.spawn(send_all)
    else:
        ts = [threading.Thread(target=receive), threading.Thread(target=send_all)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    elapsed = perf_counter_ns() - t0
    listener.close()
    if received != [n * BULK_BYTES]:
        raise RuntimeError(f"bulk transfer lost data: {received}")
    return elapsed


def stdlib_bulk(n: int) -> int:
    return _bulk(socket.create_server, socket.create_connection, False, n)


def threado_bulk(n: int) -> int:
    return _bulk(threado.socket.create_server, threado.socket.create_connection, True, n)


CASES: list[Case] = [
    TimeCase("socket echo round trip: threado.socket", stdlib_echo, threado_echo, 1.3),
    TimeCase(
        "socket echo round trip: patched, uncancellable thread",
        stdlib_echo,
        threado_echo_uncancellable,
        1.05,
    ),
    # Throughput: time per BULK_BYTES (32 MiB); >= 0.9x the rate is <= 1.11x the time.
    TimeCase("bulk TCP loopback, time per 32 MiB", stdlib_bulk, threado_bulk, 1.11),
]
